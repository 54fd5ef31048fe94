#!/usr/bin/env bash
# Installs the Debian 12 packages labgate builds, tests and runs with.
# Safe to run repeatedly: it only asks apt for what is missing. The list is what a minimal Debian 12
# (debootstrap --variant=minbase) lacks; scripts/fresh-check.sh proves it on such a root.
# The last line packages and checks: man pages (help2man), the .deb (cpack needs file and
# dpkg-shlibdeps), the unit's exposure (systemd-analyze) and the fresh root (debootstrap).
# libqrencode-dev draws the audit verification key as a QR code (labgatectl audit setup).
# libzstd-dev compresses issued statement bodies in the database.
# libfaketime lets a test jump the daemon's wall clock (tests/integration/clock_test.cpp).
# nodejs and npm install the staff console's front-end libraries (htmx, and uPlot for the ward
# report's charts, pinned in package-lock.json
# at the top of the tree; `npm ci`, never a download at run time) into node_modules/.
#
# --test (scripts/test.sh) adds what only the test command needs: Debian's chromium, a Japanese
# font for the screenshots of the Japanese pages, the npm development packages (playwright-core,
# which drives that chromium in tests/browser), and ccache, through which the test command's
# release build and the fresh-root check share one compile. The README's demo command goes
# without them.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=0
case "${1:-}" in
  "") ;;
  --test) for_tests=1 ;;
  *) echo "usage: $0 [--test]" >&2 && exit 2 ;;
esac

packages=(
  build-essential cmake pkg-config ninja-build git ca-certificates tzdata
  clang clang-format libclang-rt-14-dev
  libboost-dev
  libnfc-dev libnfc-bin libfreefare-dev libfreefare-bin
  libsqlite3-dev sqlite3
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev openssl mosquitto mosquitto-clients
  catch2 libbenchmark-dev libfaketime
  libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  zlib1g-dev libzstd-dev libsodium-dev libgpiod-dev libsystemd-dev libhowardhinnant-date-dev
  libqrencode-dev
  # Printable invoices: weasyprint makes their PDF, with a Japanese font; libarchive writes the
  # console's zip of a month's statements.
  weasyprint fonts-ipaexfont-gothic libarchive-dev
  # qpdf's library: the console's zip holds one invoice PDF per member, cut from one weasyprint run.
  libqpdf-dev
  python3
  help2man file dpkg-dev systemd debootstrap
)
# A node and npm from elsewhere (the node packages of another apt source carry their own npm and
# conflict with Debian's) serve as well: only Debian's are asked for when either is missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
if [ "$for_tests" -eq 1 ]; then
  packages+=(chromium fonts-ipafont-gothic ccache)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages, exactly as package-lock.json pins them (.npmrc: no install scripts, engines
# enforced). `npm ci` empties node_modules first, so it runs only when the lockfile changed since
# the last install or the development packages are wanted and missing; the stamp records which.
want=prod
npm_args=(--omit=dev)
if [ "$for_tests" -eq 1 ]; then
  want=dev
  npm_args=()
fi
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.labgate-installed
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$have" = "$lock dev" ] || [ "$have" = "$lock $want" ]; then
  echo "install-deps: npm packages present (node_modules)"
else
  echo "install-deps: npm ci ${npm_args[*]}"
  npm ci --no-audit --no-fund "${npm_args[@]}"
  echo "$lock $want" >"$stamp"
fi
