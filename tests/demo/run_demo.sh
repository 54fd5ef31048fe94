#!/usr/bin/env bash
# Plays the README's demo day (scripts/demo.sh) with the binaries of this build, in a scratch
# directory, and checks what a newcomer would see: every card read decided as the script's
# narrative says, November's statements byte-identical to the hand-billed golden files, and the
# ward report written.
# Usage: run_demo.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

out=$work/demo.out
if ! LABGATE_DEMO_BINARIES=$build LABGATE_DEMO_DIR=$work/demo "$src/scripts/demo.sh" >"$out" 2>&1; then
  echo "demo.sh failed; its output:"
  cat "$out"
  [ -f "$work/demo/labgated.log" ] && { echo "--- labgated.log"; tail -n 50 "$work/demo/labgated.log"; }
  exit 1
fi

status=0
# Sequence numbers are left out: they count every event, including the periodic ones.
grep -E -- "-> (granted|denied) " "$out" | sed -E 's/ seq=[0-9]+$//; s/^ +//; s/ +-> /  ->  /' \
  >"$work/decisions"
if ! diff -u "$src/tests/demo/decisions.expected" "$work/decisions"; then
  echo "the demo's card decisions differ from tests/demo/decisions.expected"
  status=1
fi
if grep -n "no decision within" "$out"; then
  echo "a card read in the demo got no decision"
  status=1
fi

for golden in "$src"/tests/billing/golden/*.csv "$src"/tests/billing/golden/*.json; do
  name=$(basename "$golden")
  if ! cmp "$golden" "$work/demo/statements/$name"; then
    echo "statement $name differs from tests/billing/golden/$name"
    status=1
  fi
done

for f in ward-2026-11.json ward-2026-11.html ward-2026-11-summary.csv; do
  if [ ! -s "$work/demo/ward-report/$f" ]; then
    echo "ward report file $f missing or empty"
    status=1
  fi
done

[ $status -eq 0 ] && echo "demo day: $(wc -l <"$work/decisions") decisions as expected, statements identical to golden"
exit $status
