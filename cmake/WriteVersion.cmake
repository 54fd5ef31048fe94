# Run at every build (cmake -P) by the labgate_version_header target: writes version.hpp with the
# current git revision. configure_file leaves the file untouched when nothing changed, so only a
# new revision recompiles the mains that print it.
# In: SOURCE_DIR, OUTPUT, VERSION.
set(LABGATE_VERSION "${VERSION}")
set(LABGATE_REVISION "")
if(EXISTS "${SOURCE_DIR}/.git")
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE)
    execute_process(COMMAND "${GIT_EXECUTABLE}" describe --always --dirty
                    WORKING_DIRECTORY "${SOURCE_DIR}"
                    OUTPUT_VARIABLE LABGATE_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                    ERROR_QUIET RESULT_VARIABLE git_status)
    if(NOT git_status EQUAL 0)
      set(LABGATE_REVISION "")
    endif()
  endif()
endif()
if(LABGATE_REVISION STREQUAL "")
  # A git archive copy: export-subst (.gitattributes) replaced the placeholder with the commit.
  file(STRINGS "${SOURCE_DIR}/cmake/git-revision.txt" archived LIMIT_COUNT 1)
  if(archived MATCHES "^[0-9a-f]+$")
    set(LABGATE_REVISION "${archived}")
  else()
    set(LABGATE_REVISION "unknown")
  endif()
endif()
configure_file("${SOURCE_DIR}/cmake/version.hpp.in" "${OUTPUT}" @ONLY)
