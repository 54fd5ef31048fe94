#!/usr/bin/env bash
# Installs what is missing, builds, starts one emulated PN532 (pn532-emu) per card reader of the
# built-in demo site and labgated on that site (its readers opened through real libnfc on the
# emulators; relays and inputs simulated; a local SQLite file), and plays a scripted day against
# it, printing every decision with its reason. Leaves the database in var/demo/ for labgatectl.
#
# For the test suite: LABGATE_DEMO_BINARIES=<build dir> skips installing and building and runs
# the binaries already built there; LABGATE_DEMO_DIR=<dir> writes everything there instead of
# var/demo (the directory is emptied first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -n "${LABGATE_DEMO_BINARIES:-}" ]; then
  bin=$(cd "$LABGATE_DEMO_BINARIES" && pwd)
else
  ./scripts/install-deps.sh

  echo "== build"
  build=${LABGATE_BUILD_DIR:-build}
  # The same configuration as test.sh, so running one after the other rebuilds nothing.
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    >/dev/null
  cmake --build "$build" -j "$(nproc)" --target labgated labgatectl labgate-sim pn532-emu
  bin=$root/$build
fi

labgated=$bin/gateway/src/app/labgated
labgatectl=$bin/gateway/src/ctl/labgatectl
sim=$bin/drivers/sim/labgate-sim
pn532_emu=$bin/drivers/pn532_emu/pn532-emu

demo=${LABGATE_DEMO_DIR:-$root/var/demo}
rm -rf "$demo"
mkdir -p "$demo"
db=$demo/labgate.db
sock=$demo/labgated.sock
log=$demo/labgated.log
# Staff at the desk act on the demo's simulated day: the evening before it until labgated runs,
# then at the daemon's own clock (so rates, top-ups and sales fall on the day they are played).
ctl_now() {
  local reply
  if [ -n "${daemon_pid:-}" ] && reply=$("$sim" -s "$sock" clock 2>/dev/null); then
    echo "${reply#ok }"
  elif [ -n "${day_over:-}" ]; then
    echo "2026-12-01 09:00"
  else
    echo "2026-11-23 18:00"
  fi
}
ctl() {
  "$labgatectl" --config config/demo-site.toml --db "$db" --create --actor demo \
    --simulated-clock "$(ctl_now)" "$@"
}

daemon_pid=
stop_daemon() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  daemon_pid=
}

# One emulated PN532 per reader of the demo site: a pty linked at $demo/pn532-<reader> that
# libnfc opens, and a control socket $demo/emu-<reader>.sock where cards are placed and removed.
# One more, "desk", is the desk reader where labgatectl issues DESFire cards; the daemon never
# polls it. The emulators keep DESFire cards in $demo/cards, so a card issued at the desk is the
# same card (keys and files) when it is placed on a door or machine reader.
readers=$(sed -n '/^\[\[readers\]\]/,/^id/s/^id *= *"\(.*\)"/\1/p' config/demo-site.toml)
mkdir -p "$demo/cards"
emu_pids=()
reader_args=()
stop_emulators() {
  for pid in "${emu_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${emu_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  emu_pids=()
}
trap 'stop_daemon; stop_emulators' EXIT
for r in $readers desk; do
  "$pn532_emu" --link "$demo/pn532-$r" --control "$demo/emu-$r.sock" --cards "$demo/cards" \
    >"$demo/emu-$r.log" 2>&1 &
  emu_pids+=($!)
  [ "$r" = desk ] || reader_args+=(--reader-device "$r=pn532_uart:$demo/pn532-$r")
done
for r in $readers desk; do
  for _ in $(seq 1 200); do
    "$sim" -s "$demo/emu-$r.sock" status >/dev/null 2>&1 && break
    sleep 0.05
  done
done
# libnfc opens only the connstrings it is given, never probes the machine's serial ports.
export LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false LIBNFC_LOG_LEVEL=0

emu() { "$sim" -s "$demo/emu-$1.sock" "${@:2}"; }
# The emulator's card for "<tech> <hex>": ISO14443A 4-byte UIDs are MIFARE Classic, 7-byte ones
# Ultralight/NTAG; FeliCa cards answer with their IDm.
emu_card() {
  case "$1:${#2}" in
    iso14443a:8) echo "classic $2" ;;
    iso14443a:14) echo "ultralight $2" ;;
    felica:16) echo "felica $2" ;;
    desfire:14) echo "desfire $2" ;;
    *) echo "demo: no emulated card for $1 $2" >&2 && return 1 ;;
  esac
}
# Puts a card on a reader's emulator (further words are the emulator's place options, such as
# clone=1) and prints the daemon's decision once its event is recorded
# (the daemon's read-result command); "tap" also takes the card away again.
present() {
  local verb=$1 reader=$2 tech=$3 hex=$4 before reply=
  before=$("$sim" -s "$sock" read-result "$reader") || before="ok reads=0"
  before=${before#ok reads=}
  before=${before%% *}
  emu "$reader" place $(emu_card "$tech" "$hex") "${@:5}" >/dev/null
  for _ in $(seq 1 500); do
    if reply=$("$sim" -s "$sock" read-result "$reader" "$before" 2>/dev/null); then
      break
    fi
    reply=
    sleep 0.01
  done
  [ "$verb" = tap ] && take_away "$reader"
  reply=${reply#ok read=* }
  printf '   %-44s -> %s
' "$verb $reader $tech $hex${5:+ $5}" "${reply:-no decision within 5 s}"
}
# Takes the card off a reader and waits until the daemon has handled its removal (the removal
# count of read-result moved), so the next clock step starts after it.
take_away() {
  local before now
  before=$("$sim" -s "$sock" read-result "$1") || before=
  emu "$1" remove >/dev/null
  for _ in $(seq 1 500); do
    now=$("$sim" -s "$sock" read-result "$1") || now=
    [ "${now##* removals=}" != "${before##* removals=}" ] && return 0
    sleep 0.01
  done
}

# The staff account every demo change declares (--actor demo): the first account is made by its
# owner declaring it.
ctl users add --login demo --name "Demo staff" --role admin >/dev/null

# The site's DESFire master keys (docs/KEYS.md): made at the desk before anything else; the
# daemon reads them with --key-file, since the built-in demo site names no key file.
keys=$demo/site.keys
ctl keys init --key-file "$keys" >/dev/null
# The audit record's sealing key ($db.seal-key, beside the database; docs/KEYS.md): labgated
# refuses to run without it. A real site writes the verification key on paper; the demo keeps it
# in its own folder so that `labgatectl audit verify --key - < $demo/verification-key` works.
ctl --json audit setup | sed -n 's/.*"verification_key": "\([0-9a-f]*\)".*/\1/p' \
  >"$demo/verification-key"

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)

echo "== the scripted day (log of the daemon: $log)"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "" | "# "* | "#") continue ;;
    "## "*) printf '\n%s%s%s\n' "$bold" "${line#\#\# }" "$plain" ;;
    "say "*) printf '   %s\n' "${line#say }" ;;
    "issue "*)
      # A blank DESFire card on the desk reader; labgatectl writes the site's application and
      # the member's credential file on it and enrols it.
      eval "set -- ${line#issue }"
      emu desk place desfire "$2" fresh=1 >/dev/null
      if ! out=$(ctl credentials issue --member "$1" --device "pn532_uart:$demo/pn532-desk" \
        --key-file "$keys" --timeout 10 2>/dev/null); then
        echo "labgatectl credentials issue --member $1: $out" >&2
        exit 1
      fi
      emu desk remove >/dev/null
      printf '   %-44s -> %s\n' "(desk) issue a DESFire card $2" "$out"
      ;;
    "ctl "*)
      eval "set -- ${line#ctl }"
      if ! out=$(ctl "$@" 2>&1); then
        echo "labgatectl $*: $out" >&2
        exit 1
      fi
      case "$1 $2" in
        "certs list" | "rates list") printf '%s\n' "$out" | sed 's/^/     /' ;;
        sell*) printf '   %-44s -> %s\n' "(desk) labgatectl $1" "$out" ;;
      esac
      ;;
    START)
      "$labgated" --db "$db" --control-socket "$sock" --admin-socket "$demo/admin.sock" \
        --simulated-clock "2026-11-24 08:00" \
        --key-file "$keys" "${reader_args[@]}" >"$log" 2>&1 &
      daemon_pid=$!
      for _ in $(seq 1 200); do
        [ -S "$sock" ] && "$sim" -s "$sock" clock >/dev/null 2>&1 && break
        sleep 0.05
      done
      printf '\n   labgated started (pid %s) on the built-in demo site, clock at 2026-11-24 08:00 JST\n' \
        "$daemon_pid"
      printf '   its %s readers are emulated PN532s read through libnfc\n' "$(wc -w <<<"$readers")"
      ;;
    "tap "* | "place "*)
      eval "set -- $line"
      present "$@"
      ;;
    "remove "*)
      take_away "${line#remove }"
      printf '   %-44s -> %s\n' "$line" "card left the field"
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
stop_emulators
echo
echo "${bold}What was recorded (labgatectl events list, oldest first)${plain}"
events=$(ctl events list --limit 500)
{ head -n 2 <<<"$events"; tail -n +3 <<<"$events" | tac; } | sed 's/^/   /'
echo
echo "${bold}Usage sessions (labgatectl sessions list)${plain}"
ctl sessions list --limit 100 | sed 's/^/   /'
echo
# The manager's work happens on 1 December, once November is over.
day_over=1
echo
echo "${bold}November's statements (labgatectl statements export --month 2026-11)${plain}"
statements=$demo/statements
ctl statements export --month 2026-11 --out "$statements" | sed 's/^/   /'
echo "   issuing them freezes November and charges each member's account:"
ctl statements issue --month 2026-11 | sed 's/^/   /'
echo
echo "${bold}The ward report for November (labgatectl report ward --month 2026-11)${plain}"
report=$demo/ward-report
ctl report ward --month 2026-11 --out "$report" | sed 's/^/   /'
echo
echo "Statements (CSV for Excel, JSON): $statements"
echo "Ward report (CSV, JSON, printable HTML): $report"
echo "Database: $db  (explore it with: $labgatectl --config config/demo-site.toml --db $db --help)"
