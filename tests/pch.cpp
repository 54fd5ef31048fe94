// Builds the precompiled header the Catch2 test targets share (tests/CMakeLists.txt).
