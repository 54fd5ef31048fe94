# labgate_version: the generated header labgate/version.hpp (project version + git revision) for
# the --version of every binary. It is rewritten at each build, so a new commit shows without
# re-running CMake.
set(LABGATE_VERSION_HEADER ${CMAKE_BINARY_DIR}/generated/labgate/version.hpp)
add_custom_target(labgate_version_header
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUTPUT=${LABGATE_VERSION_HEADER}
          -DVERSION=${PROJECT_VERSION} -P ${PROJECT_SOURCE_DIR}/cmake/WriteVersion.cmake
  BYPRODUCTS ${LABGATE_VERSION_HEADER}
  COMMENT "labgate version header"
  VERBATIM)
add_library(labgate_version INTERFACE)
target_include_directories(labgate_version INTERFACE ${CMAKE_BINARY_DIR}/generated)
add_dependencies(labgate_version labgate_version_header)
