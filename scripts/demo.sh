#!/usr/bin/env bash
# Installs what is missing, builds, starts labgated on its built-in demo site (simulated readers,
# relays and inputs, a local SQLite file) and plays a scripted day against it, printing every
# decision with its reason. Leaves the database in var/demo/ for labgatectl to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/install-deps.sh

echo "== build"
build=${LABGATE_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target labgated labgatectl labgate-sim

labgated=$root/$build/gateway/src/app/labgated
labgatectl=$root/$build/gateway/src/ctl/labgatectl
sim=$root/$build/drivers/sim/labgate-sim

demo=$root/var/demo
rm -rf "$demo"
mkdir -p "$demo"
db=$demo/labgate.db
sock=$demo/labgated.sock
log=$demo/labgated.log
ctl() { "$labgatectl" --config config/demo-site.toml --db "$db" --create --actor demo "$@"; }

daemon_pid=
stop_daemon() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  daemon_pid=
}
trap stop_daemon EXIT

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)

echo "== the scripted day (log of the daemon: $log)"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "" | "# "* | "#") continue ;;
    "## "*) printf '\n%s%s%s\n' "$bold" "${line#\#\# }" "$plain" ;;
    "say "*) printf '   %s\n' "${line#say }" ;;
    "ctl "*)
      eval "set -- ${line#ctl }"
      if ! out=$(ctl "$@" 2>&1); then
        echo "labgatectl $*: $out" >&2
        exit 1
      fi
      case "$1 $2" in
        "certs list") printf '%s\n' "$out" | sed 's/^/     /' ;;
      esac
      ;;
    START)
      "$labgated" --db "$db" --control-socket "$sock" --simulated-clock "2026-11-24 08:00" \
        >"$log" 2>&1 &
      daemon_pid=$!
      for _ in $(seq 1 200); do
        [ -S "$sock" ] && "$sim" -s "$sock" clock >/dev/null 2>&1 && break
        sleep 0.05
      done
      printf '\n   labgated started (pid %s) on the built-in demo site, clock at 2026-11-24 08:00 JST\n' \
        "$daemon_pid"
      ;;
    *)
      reply=$("$sim" -s "$sock" $line 2>&1) || true
      if [ "${line%% *}" = status ] || [ "${line%% *}" = outputs ]; then
        printf '   %-44s\n' "$line"
        printf '%s\n' "${reply#ok }" | tr '|' '\n' | sed -e 's/^ *//' -e '/^$/d' -e 's/^/        /'
      else
        printf '   %-44s -> %s\n' "$line" "${reply#ok }"
      fi
      ;;
  esac
done < config/demo-day.txt

stop_daemon
echo
echo "${bold}What was recorded (labgatectl events list, oldest first)${plain}"
events=$(ctl events list --limit 500)
{ head -n 2 <<<"$events"; tail -n +3 <<<"$events" | tac; } | sed 's/^/   /'
echo
echo "${bold}Usage sessions (labgatectl sessions list)${plain}"
ctl sessions list --limit 100 | sed 's/^/   /'
echo
echo "Database: $db  (explore it with: $labgatectl --config config/demo-site.toml --db $db --help)"
