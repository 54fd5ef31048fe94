# Every target of ours links labgate_warnings, so warnings are errors everywhere
# without touching third-party code pulled in through find_package.
add_library(labgate_warnings INTERFACE)
target_compile_options(labgate_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(labgate_warnings INTERFACE -Wduplicated-cond -Wlogical-op)
endif()
