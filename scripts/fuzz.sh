#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (FUZZ_SECONDS, default
# 20) on its seed corpus. A crash fails the run and leaves the reproducer in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLABGATE_FUZZ=ON -DLABGATE_BUILD_BENCH=OFF >/dev/null
targets=(labgate_config_fuzz fuzz_command fuzz_pn532_frames labgate_roster_fuzz fuzz_desfire_apdu
  fuzz_desfire_credential_file fuzz_desfire_card_answers fuzz_seal_verify fuzz_console_forms)
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"

# The targets run side by side, as many at a time as there are cores: each is one process on one
# core for its bounded time. A target's output goes to its own log, printed when it ends.
pids=()
names=()
run() {
  local name=$1 binary=$2 seeds=$3
  shift 3
  local corpus=build-fuzz/corpus-$name
  mkdir -p "$corpus"
  # Polled rather than `wait -n`, which would consume the status the loop at the end reads.
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 1; done
  echo "fuzz: $name for ${seconds}s"
  (cd build-fuzz && "$binary" "../$corpus" ${seeds:+"../$seeds"} -max_total_time="$seconds" \
    -print_final_stats=1 "$@" >"fuzz-$name.log" 2>&1) &
  pids+=($!)
  names+=("$name")
}
run config "$(find build-fuzz -name labgate_config_fuzz -type f | head -1 | sed 's|^build-fuzz/|./|')" config -max_len=8192
run mqtt-command "$(find build-fuzz -name fuzz_command -type f | head -1 | sed 's|^build-fuzz/|./|')" tests/mqtt/fuzz_corpus -max_len=4200
run pn532-frames "$(find build-fuzz -name fuzz_pn532_frames -type f | head -1 | sed 's|^build-fuzz/|./|')" "" -max_len=600
run roster "$(find build-fuzz -name labgate_roster_fuzz -type f | head -1 | sed 's|^build-fuzz/|./|')" tests/import/fuzz_corpus -max_len=16384
run desfire-apdu "$(find build-fuzz -name fuzz_desfire_apdu -type f | head -1 | sed 's|^build-fuzz/|./|')" "" -max_len=600
run desfire-credential-file "$(find build-fuzz -name fuzz_desfire_credential_file -type f | head -1 | sed 's|^build-fuzz/|./|')" "" -max_len=128
run desfire-card-answers "$(find build-fuzz -name fuzz_desfire_card_answers -type f | head -1 | sed 's|^build-fuzz/|./|')" "" -max_len=512
run seal-verify "$(find build-fuzz -name fuzz_seal_verify -type f | head -1 | sed 's|^build-fuzz/|./|')" "" -max_len=4096
run console-forms "$(find build-fuzz -name fuzz_console_forms -type f | head -1 | sed 's|^build-fuzz/|./|')" tests/console/fuzz_corpus -max_len=16384
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "fuzz: ${names[$i]} done: $(grep -E '^stat::number_of_executed_units' "build-fuzz/fuzz-${names[$i]}.log" | tr -s ' ')"
  else
    echo "fuzz: ${names[$i]} FAILED; the end of its log (build-fuzz/fuzz-${names[$i]}.log):"
    tail -n 40 "build-fuzz/fuzz-${names[$i]}.log"
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1
echo "fuzz: no crash"
