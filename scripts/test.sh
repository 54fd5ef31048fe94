#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once in a normal build and once with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the fuzz targets for a bounded time, then
# the README on a fresh minimal Debian 12 root (scripts/fresh-check.sh: needs root and the Debian
# archive; it tests the committed tree).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --test

jobs=$(nproc)
export LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false LIBNFC_LOG_LEVEL=0

echo "== normal build"
# Optimised without debug info: -g costs a third of the compile time on these 2-core machines,
# and the ASan build below keeps it. demo.sh configures the same build directory the same way.
# It compiles through ccache into build-ccache/, which the fresh-root check below lends to the
# root: the README's demo command and the package build there compile this same tree with the
# same flags, so they take these objects instead of compiling the product again (a missing
# header or library there still fails: ccache looks every input up before it answers). Paths
# are hashed relative to the tree, and the compiler by its contents, so the root's copy of the
# same Debian compiler matches.
export CCACHE_DIR=$PWD/build-ccache CCACHE_BASEDIR=$PWD CCACHE_COMPILERCHECK=content CCACHE_NOHASHDIR=1
export LABGATE_FRESH_CCACHE=$CCACHE_DIR
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j "$jobs"
# Two at a time (tests/CMakeLists.txt: which suites start first and which take turns).
ctest --test-dir build --output-on-failure --timeout 600 -j "$jobs" | tee build/ctest.log

echo "== ASan + UBSan build"
# Line tables only (-g1): the sanitizers' reports still name file, line and function, and the
# build skips the full debug info (about an eighth of its compile time, measured on the store).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLABGATE_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 -DLABGATE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The exhaustive state-space check, the package build and the browser suite ran above: under
# the sanitizers they would repeat the same arithmetic, packaging and Chromium work several times
# slower, and find nothing the firmware's unit tests and the console's HTTP tests here (which
# drive the same console code) do not exercise. Two at a time, as above.
ctest --test-dir build-asan --output-on-failure --timeout 900 -j "$jobs" \
  -E '^(firmware\.exhaustive|package\.|browser\.)' | tee build-asan/ctest.log

if [ -x scripts/fuzz.sh ]; then
  echo "== fuzz targets (bounded)"
  ./scripts/fuzz.sh
fi

echo "== fresh Debian 12 root (scripts/fresh-check.sh)"
fresh=passed
./scripts/fresh-check.sh || fresh=FAILED

passed=0
failed=0
for log in build/ctest.log build-asan/ctest.log; do
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
done
# The fresh-root check counts as one more test.
if [ "$fresh" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "fresh-root check: ${fresh}"
echo "suite: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
