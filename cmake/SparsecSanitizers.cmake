# Sanitizer and fuzzer builds of sparsec's own code (docs/Hardening.md).
#
#   -DSPARSEC_SANITIZE=address,undefined   scripts/sanitize.sh (build-asan)
#   -DSPARSEC_BUILD_FUZZERS=ON             scripts/fuzz.sh (build-fuzz); implies
#                                          address,undefined and adds coverage
#
# Only what this project compiles is instrumented; libMLIR.so, libLLVM.so,
# libonnx (scripts/build-onnx.sh) and protobuf are uninstrumented. In sanitizer
# builds every binary and shared library uses the shared ASan runtime
# (-shared-libasan), so that the C API and runtime libraries loaded into
# Python (with the runtime in LD_PRELOAD) and the executables the tests start
# share one runtime, and the shared libraries still link with
# -Wl,--no-undefined. Fuzz builds link only the fuzz targets, with the static
# runtime libFuzzer expects.
set(SPARSEC_SANITIZE "" CACHE STRING
  "Sanitizers for sparsec's own code, e.g. address,undefined (clang)")
option(SPARSEC_BUILD_FUZZERS
  "Build the libFuzzer targets under fuzz/ (clang; implies address,undefined)"
  OFF)

unset(SPARSEC_ASAN_RUNTIME CACHE)
set(SPARSEC_SANITIZE_LINK_OPTIONS)
if(SPARSEC_BUILD_FUZZERS AND SPARSEC_SANITIZE STREQUAL "")
  set(SPARSEC_SANITIZE "address,undefined")
endif()
if(SPARSEC_SANITIZE STREQUAL "")
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SPARSEC_SANITIZE and SPARSEC_BUILD_FUZZERS need clang")
endif()

set(sparsec_sanitize_flags -fsanitize=${SPARSEC_SANITIZE}
  -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only)
if(SPARSEC_BUILD_FUZZERS)
  # Coverage for libFuzzer in every library; the fuzz targets themselves
  # link with -fsanitize=fuzzer (fuzz/CMakeLists.txt).
  list(APPEND sparsec_sanitize_flags -fsanitize=fuzzer-no-link)
endif()
add_compile_options(${sparsec_sanitize_flags})
# What links sparsec's instrumented code needs: set here for the build, and
# exported on the installed package's targets (SparsecInstall.cmake).
set(SPARSEC_SANITIZE_LINK_OPTIONS -fsanitize=${SPARSEC_SANITIZE})

if(SPARSEC_SANITIZE MATCHES "address" AND NOT SPARSEC_BUILD_FUZZERS)
  execute_process(
    COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libclang_rt.asan-x86_64.so
    OUTPUT_VARIABLE SPARSEC_ASAN_RUNTIME OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT EXISTS "${SPARSEC_ASAN_RUNTIME}")
    message(FATAL_ERROR "no shared ASan runtime next to ${CMAKE_CXX_COMPILER} "
      "(${SPARSEC_ASAN_RUNTIME})")
  endif()
  set(SPARSEC_ASAN_RUNTIME "${SPARSEC_ASAN_RUNTIME}" CACHE INTERNAL "")
  get_filename_component(sparsec_asan_dir "${SPARSEC_ASAN_RUNTIME}" DIRECTORY)
  # The shared runtime is not on the loader's path: every binary finds it
  # through its RUNPATH. Python preloads it (scripts/sanitize.sh).
  list(APPEND SPARSEC_SANITIZE_LINK_OPTIONS -shared-libasan
    "LINKER:-rpath,${sparsec_asan_dir}")
endif()
add_link_options(${SPARSEC_SANITIZE_LINK_OPTIONS})
if(SPARSEC_BUILD_FUZZERS)
  message(STATUS "sparsec: sanitizers ${SPARSEC_SANITIZE}, libFuzzer coverage")
else()
  message(STATUS "sparsec: sanitizers ${SPARSEC_SANITIZE}")
endif()
