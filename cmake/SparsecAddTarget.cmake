# sparsec_add_target(<name> LIBRARY <lib> REGISTER <function>)
# Declares a compilation target that lives in its own folder under
# lib/Target/. <function> is `void <function>(sparsec::TargetRegistry &)` in
# namespace sparsec, defined in <lib>; lib/Target/CMakeLists.txt generates the
# call to it, so a new target needs no edit to any shared source file.
function(sparsec_add_target name)
  cmake_parse_arguments(ARG "" "LIBRARY;REGISTER" "" ${ARGN})
  if(NOT ARG_LIBRARY OR NOT ARG_REGISTER)
    message(FATAL_ERROR "sparsec_add_target(${name}) needs LIBRARY and REGISTER")
  endif()
  set_property(GLOBAL APPEND PROPERTY SPARSEC_TARGET_NAMES ${name})
  set_property(GLOBAL APPEND PROPERTY SPARSEC_TARGET_LIBRARIES ${ARG_LIBRARY})
  set_property(GLOBAL APPEND PROPERTY SPARSEC_TARGET_REGISTRATIONS
    ${ARG_REGISTER})
endfunction()
