#!/usr/bin/env bash
# The exhaustive checker checks itself (issue 20, part 3): each hand-written mutation below is
# applied to a temporary copy of firmware/, the checker is built against the mutant, and it must
# report a violation. A mutation whose text no longer matches the source fails the script, so the
# list cannot silently go stale.
#
# Usage: tests/firmware/mutation_check.sh [c++ compiler]   (or: cmake --build build --target
# firmware_mutation_check). Exit status 0: every mutant was caught.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cxx="${1:-${CXX:-g++}}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name @ file under firmware/src @ exact text (\n: newline) @ replacement @ checker family
mutants=$(
  cat <<'EOF'
fire no longer requires a new staff confirm@machine_interlock.cpp@      needs_confirm_ = true;\n    }@    }@machine
a <= at the maximum-duration deadline becomes <@machine_interlock.cpp@const bool max_due = max && *max <= now;@const bool max_due = max && *max < now;@machine
a <= at the strike pulse end becomes <@door_controller.cpp@pulse_until_ && *pulse_until_ <= now;@pulse_until_ && *pulse_until_ < now;@door
a door without fire release releases on fire@door_controller.cpp@  if (fire_active_ && config_.fire_release) {@  if (fire_active_) {@door
a pulse is allowed during a fire release@door_controller.cpp@      state_ != DoorState::kFireRelease && config_error_ == DoorConfigError::kNone;@      config_error_ == DoorConfigError::kNone;@door
a machine Fault that never clears@machine_interlock.cpp@    fault_active_ = active;@    fault_active_ = fault_active_ || active;@machine
a member may resume after the maximum passed in Grace (the issue 20 bug)@machine_interlock.cpp@ &&\n         !max_passed(now) && !reader_down_;@ && !reader_down_;@machine
a machine reader going down does not start Grace@machine_interlock.cpp@      if (state_ == MachineState::kInUse) start_grace(EndReason::kReaderDown, now, fx);@      (void)0;@machine
a session resumes while its reader is down@machine_interlock.cpp@!max_passed(now) && !reader_down_;@!max_passed(now);@machine
a grant starts a session while the reader is down@machine_interlock.cpp@reader_down_ ? MachineState::kFault : state_;@state_;@machine
overdue deadlines run after the input@machine_interlock.cpp@  if (!known(state_)) trap(now, fx);\n  advance(now, fx);@  if (!known(state_)) trap(now, fx);@machine
busy hold has no limit@machine_interlock.cpp@      if (!hold || now < *hold) return;@      return;@machine
a busy input stuck high at session start still holds power@machine_interlock.cpp@      if (state_ == MachineState::kIdle && busy_trusted()) {@      if (state_ == MachineState::kIdle && busy_trusted() && member < 0) {@machine
a lockout does not cut the relay in the same call@machine_interlock.cpp@    lockout_ = reason;\n    settle(now, fx);@    lockout_ = reason;@machine
a contact opening on a locked door is not forced open@door_controller.cpp@      if (open) change_state(DoorState::kForcedOpen, now, fx);@      break;@door
EOF
)

caught=0
missed=0
n=0
while IFS='@' read -r name file from to family; do
  n=$((n + 1))
  dir="$work/m$n"
  mkdir -p "$dir"
  cp -r "$root/firmware/include" "$root/firmware/src" "$dir/"
  if ! python3 - "$dir/src/$file" "$from" "$to" <<'PY'; then
import sys
def unescape(s):
    return s.replace("\\n", "\n")
path, old, new = sys.argv[1], unescape(sys.argv[2]), unescape(sys.argv[3])
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"mutation text found {text.count(old)} times in {path}")
open(path, "w").write(text.replace(old, new))
PY
    echo "STALE   $name (its text no longer matches firmware/src/$file)"
    missed=$((missed + 1))
    continue
  fi
  "$cxx" -std=c++20 -O2 -w -I"$dir/include" "$root/tests/firmware/exhaustive_check.cpp" \
    "$dir"/src/*.cpp -o "$dir/check"
  start=$(date +%s)
  if "$dir/check" --only "$family" >"$dir/out.txt" 2>&1; then
    echo "MISSED  $name"
    missed=$((missed + 1))
  else
    reason=$(grep -m1 '^VIOLATION' "$dir/out.txt" || echo "exit status without a violation line")
    echo "CAUGHT  $name ($(($(date +%s) - start)) s): $reason"
    if grep -q '^VIOLATION' "$dir/out.txt"; then caught=$((caught + 1)); else missed=$((missed + 1)); fi
  fi
done <<<"$mutants"

echo "mutation check: $caught of $n mutants caught"
[ "$missed" -eq 0 ]
