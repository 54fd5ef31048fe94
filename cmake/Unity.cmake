# Unity builds for the heaviest targets.
#
# Most of the build's time is the same heavy headers (Asio, Beast, nlohmann-json, CLI11) parsed,
# instantiated and optimised again in every .cpp file. In a unity build a target's files are
# compiled a few at a time as one translation unit, so that work is done once per batch. On the
# 2-core machines the suite runs on, this decided whether its two builds fit the time budget.
# Batches stay small so an edit recompiles a few files and both cores still have work.
#
# A file whose file-local names clash with another's (two `using json = ...` of different json
# types, two anonymous-namespace helpers of one name) is listed in SKIP and compiled on its own:
# renaming would only serve the build.
option(LABGATE_UNITY "Compile the heaviest targets as unity builds" ON)

# labgate_unity(<target> [SKIP <source>...]): compile <target> in batches, except SKIP's files.
function(labgate_unity target)
  cmake_parse_arguments(U "" "" "SKIP" ${ARGN})
  if(NOT LABGATE_UNITY)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  # A type from an anonymous namespace used by a class of another file of the batch is only a
  # header's mistake outside a unity build; inside one it is every batch's normal case.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
  if(U_SKIP)
    set_source_files_properties(${U_SKIP} TARGET_DIRECTORY ${target}
      PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endif()
endfunction()
