#!/usr/bin/env bash
# Installs the Debian 12 packages labgate builds, tests and runs with.
# Safe to run repeatedly: it only asks apt for what is missing. The list is what a minimal Debian 12
# (debootstrap --variant=minbase) lacks; scripts/fresh-check.sh proves it on such a root.
# The last line packages and checks: man pages (help2man), the .deb (cpack needs file and
# dpkg-shlibdeps), the unit's exposure (systemd-analyze) and the fresh root (debootstrap).
# libqrencode-dev draws the audit verification key as a QR code (labgatectl audit setup).
# libfaketime lets a test jump the daemon's wall clock (tests/integration/clock_test.cpp).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build git ca-certificates tzdata
  clang clang-format libclang-rt-14-dev
  libboost-dev
  libnfc-dev libnfc-bin libfreefare-dev libfreefare-bin
  libsqlite3-dev sqlite3
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev openssl mosquitto mosquitto-clients
  catch2 libbenchmark-dev libfaketime
  libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  zlib1g-dev libsodium-dev libgpiod-dev libsystemd-dev libhowardhinnant-date-dev
  libqrencode-dev
  python3
  help2man file dpkg-dev systemd debootstrap
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
