# `cmake --install <build> --prefix <P>`: headers, libraries, tools and a CMake
# package, so that another project can write
#
#   find_package(Sparsec CONFIG REQUIRED)   # -DSparsec_DIR=<P>/lib/cmake/sparsec
#   target_link_libraries(app PRIVATE sparsec::capi)      # C API, libsparsec_capi.so
#   target_link_libraries(app PRIVATE sparsec::runtime)   # MLIR-free runtime .so
#   target_link_libraries(app PRIVATE sparsec::compiler)  # C++ libraries + MLIR
#
# Included once from the top-level CMakeLists.txt after every library and
# tool is defined; installs targets defined in other directories (CMake 3.13+)
# and only sets install-time properties on them (INSTALL_RPATH, EXPORT_NAME,
# INSTALL_INTERFACE include directories), so the build itself is unchanged.
include(CMakePackageConfigHelpers)

set(SPARSEC_INSTALL_BINDIR bin)
set(SPARSEC_INSTALL_LIBDIR lib)
set(SPARSEC_INSTALL_INCLUDEDIR include)
set(SPARSEC_INSTALL_CMAKEDIR ${SPARSEC_INSTALL_LIBDIR}/cmake/sparsec)

# --- The exported libraries -------------------------------------------------

# The C++ libraries a consumer of sparsec::compiler links: the registration
# and the compiler with everything they link (the target plug-ins, the
# dialect, the importer, the MLIR-free layers under them). install(EXPORT)
# needs every sparsec library in their link interfaces in the same set.
get_property(sparsec_target_plugin_libs GLOBAL PROPERTY SPARSEC_TARGET_LIBRARIES)
set(SPARSEC_EXPORTED_STATIC_LIBS
  SparsecRegistration
  SparsecCompiler
  SparsecTarget
  ${sparsec_target_plugin_libs}
  SparsecTargetInterface
  SparsecImportONNX
  SparsecTransforms
  SparsecDialect
  SparsecSupport
  SparsecRuntime
  SparsecRuntimeCUDA
  SparsecPTXEmulator
  SparsecKernelGen
  SparsecSparsity
  SparsecNpy)
list(REMOVE_DUPLICATES SPARSEC_EXPORTED_STATIC_LIBS)
foreach(lib IN LISTS SPARSEC_EXPORTED_STATIC_LIBS)
  if(NOT TARGET ${lib})
    message(FATAL_ERROR "SparsecInstall.cmake: no library target ${lib}")
  endif()
endforeach()

# sparsec::compiler: one name for all of them. The static libraries get
# their include directories from include_directories() in the build, so
# their installed interface gets <prefix>/include from INCLUDES DESTINATION
# below. The MLIR/LLVM include directories and definitions are added by
# SparsecConfig.cmake from the MLIR package the consumer finds.
add_library(sparsec_compiler INTERFACE)
target_link_libraries(sparsec_compiler INTERFACE
  SparsecRegistration SparsecCompiler SparsecSupport)
target_include_directories(sparsec_compiler INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>)
target_compile_features(sparsec_compiler INTERFACE cxx_std_17)
set_target_properties(sparsec_compiler PROPERTIES EXPORT_NAME compiler)

# sparsec::runtime: libsparsec_runtime.so (sparsec-c/Runtime.h); it links
# only static MLIR-free libraries, libc, libdl and pthreads (privately) and
# needs no RUNPATH. The static SparsecRuntime is exported too, as
# sparsec::SparsecRuntime (SparsecTargetCUDA links it).
set_target_properties(sparsec_runtime PROPERTIES EXPORT_NAME runtime)

# sparsec::capi: libsparsec_capi.so (sparsec-c/Compiler.h), which links MLIR
# privately; the installed copy finds libMLIR.so/libLLVM.so through its
# RUNPATH (Debian's LLVM is not on the default search path).
set_target_properties(sparsec_capi PROPERTIES EXPORT_NAME capi)

set(SPARSEC_INSTALL_LIB_RPATH "$ORIGIN" "${LLVM_LIBRARY_DIR}")
set(SPARSEC_INSTALL_TOOL_RPATH "$ORIGIN/../${SPARSEC_INSTALL_LIBDIR}"
  "${LLVM_LIBRARY_DIR}")
set_target_properties(sparsec_capi SparsecPlugin PROPERTIES
  INSTALL_RPATH "${SPARSEC_INSTALL_LIB_RPATH}")
set_target_properties(sparsec sparsec-opt PROPERTIES
  INSTALL_RPATH "${SPARSEC_INSTALL_TOOL_RPATH}")

# A sanitizer build (docs/Hardening.md): whatever links its libraries needs
# the sanitizer runtime too (and clang).
foreach(option IN LISTS SPARSEC_SANITIZE_LINK_OPTIONS)
  foreach(target sparsec_capi sparsec_runtime sparsec_compiler)
    target_link_options(${target} INTERFACE $<INSTALL_INTERFACE:${option}>)
  endforeach()
endforeach()

# INCLUDES DESTINATION puts <prefix>/include on every exported target's
# interface.
install(TARGETS sparsec_capi sparsec_runtime sparsec_compiler
    ${SPARSEC_EXPORTED_STATIC_LIBS}
  EXPORT SparsecTargets
  LIBRARY DESTINATION ${SPARSEC_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${SPARSEC_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${SPARSEC_INSTALL_BINDIR}
  INCLUDES DESTINATION ${SPARSEC_INSTALL_INCLUDEDIR})

# --- Tools and the mlir-opt plugin --------------------------------------------

install(TARGETS sparsec sparsec-opt sparsec-run
  RUNTIME DESTINATION ${SPARSEC_INSTALL_BINDIR})
install(TARGETS SparsecPlugin
  LIBRARY DESTINATION ${SPARSEC_INSTALL_LIBDIR})

# --- Headers ------------------------------------------------------------------

install(DIRECTORY
    ${PROJECT_SOURCE_DIR}/include/sparsec
    ${PROJECT_SOURCE_DIR}/include/sparsec-c
  DESTINATION ${SPARSEC_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
# The TableGen-generated declarations the headers include.
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/sparsec
  DESTINATION ${SPARSEC_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h.inc"
  PATTERN "CMakeFiles" EXCLUDE)

# --- The package --------------------------------------------------------------

install(EXPORT SparsecTargets
  NAMESPACE sparsec::
  FILE SparsecTargets.cmake
  DESTINATION ${SPARSEC_INSTALL_CMAKEDIR})

# Values SparsecConfig.cmake.in substitutes: the MLIR package this build
# used (its version and directory, tried first by the consumer).
set(SPARSEC_CONFIG_MLIR_VERSION "${LLVM_VERSION_MAJOR}.${LLVM_VERSION_MINOR}")
set(SPARSEC_CONFIG_MLIR_DIR "${MLIR_DIR}")
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/SparsecConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/sparsec/SparsecConfig.cmake
  INSTALL_DESTINATION ${SPARSEC_INSTALL_CMAKEDIR}
  PATH_VARS SPARSEC_INSTALL_INCLUDEDIR SPARSEC_INSTALL_LIBDIR
    SPARSEC_INSTALL_BINDIR)
# 0.x: a minor version may break the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/sparsec/SparsecConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/cmake/sparsec/SparsecConfig.cmake
    ${PROJECT_BINARY_DIR}/cmake/sparsec/SparsecConfigVersion.cmake
  DESTINATION ${SPARSEC_INSTALL_CMAKEDIR})
