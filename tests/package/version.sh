#!/usr/bin/env bash
# Each binary's --version names it, the CMake project version and a git revision:
# "labgated 0.1.0 (git 1a2b3c4)". Usage: version.sh VERSION BINARY...
set -euo pipefail
version=$1
shift
status=0
for binary in "$@"; do
  name=$(basename "$binary")
  if ! out=$("$binary" --version 2>&1); then
    echo "FAIL: $name --version exited non-zero: $out"
    status=1
    continue
  fi
  expected="^$name ${version//./\\.} \\(git [0-9a-z][0-9a-z.+_-]*\\)\$"
  if ! grep -Eq "$expected" <<<"$out" || grep -q "git unknown" <<<"$out"; then
    echo "FAIL: $name --version printed '$out', expected /$expected/"
    status=1
  else
    echo "ok: $out"
  fi
done
exit "$status"
