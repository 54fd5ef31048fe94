#!/usr/bin/env bash
# Plays a newcomer on a fresh Debian 12: bootstraps a minimal bookworm root (debootstrap
# --variant=minbase), copies the committed tree into it (git archive HEAD, so uncommitted changes
# are not tested), and, as root inside a chroot,
#   1. runs the README's demo command (./scripts/demo.sh: it installs every package it needs),
#   2. builds the Debian package from that build and installs it with apt-get,
#      (the package carries the console's htmx, which the demo command's `npm ci` installed),
#   3. writes a site config with `labgatectl init`, runs `audit setup` as the daemon's user,
#      checks both daemons' --version, starts
#      labgated from the package as user labgate until it reports it is running, stops it with
#      SIGTERM and checks that it exited cleanly.
# A missing install step fails it. It never skips: if the Debian archive cannot be reached it
# fails and says so.
#
# The mirror is the one this machine's apt uses (LABGATE_FRESH_MIRROR overrides it). The
# bootstrapped root is cached as a tarball in LABGATE_FRESH_CACHE (default
# /var/cache/labgate-fresh-check) and re-bootstrapped when missing; the host's .deb cache
# (/var/cache/apt/archives) is shared with the chroot so downloads are reused, and the chroot's
# compiler cache (ccache, installed by this check only) is kept there too. Needs root.
# LABGATE_FRESH_KEEP=1 keeps the root (its path is printed) for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

suite=bookworm
cache=${LABGATE_FRESH_CACHE:-/var/cache/labgate-fresh-check}
arch=$(dpkg --print-architecture)
tarball=$cache/minbase-$suite-$arch.tar.gz

fail() {
  echo "fresh-check: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || fail "debootstrap is missing: run ./scripts/install-deps.sh"
git -C "$src" rev-parse --verify -q HEAD >/dev/null || fail "not a git checkout with a commit"

# The Debian mirror of this machine's own apt sources: the first URI serving the suite itself
# (deb822 .sources files first, then the one-line format).
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$suite" '
      /^[ \t]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f" | head -n 1)
    [ -n "$uri" ] && echo "$uri" && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
    [ -n "$uri" ] && echo "$uri" && return 0
  done
  return 1
}
mirror=${LABGATE_FRESH_MIRROR:-$(host_mirror || true)}
[ -n "$mirror" ] || fail "no apt source for $suite found in /etc/apt; set LABGATE_FRESH_MIRROR"
mirror=${mirror%/}

# The archive must answer: the install steps inside the root fetch from it on every run.
if ! python3 - "$mirror/dists/$suite/Release" <<'EOF'; then
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=20).read(64)
except Exception as e:
    sys.exit(f"fresh-check: {sys.argv[1]}: {e}")
EOF
  fail "the Debian archive $mirror cannot be reached (fetching dists/$suite/Release failed);" \
    "the check needs it and does not skip"
fi

phase_start=$SECONDS
check_start=$SECONDS
timings=()
phase_done() {
  local took=$((SECONDS - phase_start))
  timings+=("$(printf '%-42s %3dm%02ds' "$1" $((took / 60)) $((took % 60)))")
  echo "== fresh-check: $1 took $((took / 60))m$((took % 60))s"
  phase_start=$SECONDS
}

work=$(mktemp -d "${TMPDIR:-/var/tmp}/labgate-fresh.XXXXXX")
root=$work/root
mounts=()
cleanup() {
  local status=$? i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null ||
      echo "fresh-check: cannot unmount ${mounts[$i]}" >&2
  done
  # Never delete through a mount that is still there (the host's .deb cache is bound in).
  if findmnt -rn -o TARGET | grep -q "^$work/"; then
    echo "fresh-check: mounts left under $work; not removing it" >&2
  elif [ "${LABGATE_FRESH_KEEP:-0}" = 1 ]; then
    echo "fresh-check: root kept in $root"
  else
    rm -rf --one-file-system "$work"
  fi
  if [ ${#timings[@]} -gt 0 ]; then
    echo "== fresh-check timings"
    printf '   %s\n' "${timings[@]}"
    local took=$((SECONDS - check_start))
    echo "   total: $((took / 60))m$((took % 60))s ($([ "$status" -eq 0 ] && echo passed || echo FAILED))"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$root" "$cache"
if [ -s "$tarball" ]; then
  tar -xzf "$tarball" -C "$root"
  phase_done "unpack the cached minbase root"
else
  echo "== fresh-check: debootstrap --variant=minbase $suite from $mirror"
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    fail "debootstrap from $mirror failed (log above)"
  fi
  # Cache the pristine root; a half-written tarball never replaces a good one.
  tar -czf "$tarball.part" -C "$root" . && mv "$tarball.part" "$tarball"
  phase_done "debootstrap (cold; cached now)"
fi

bind() {
  [ -d "$1" ] && mkdir -p "$2"
  mount --bind "$1" "$2"
  mounts+=("$2")
}
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
# A private /dev: the basic nodes bound from the host and a devpts instance of its own (pn532-emu
# opens pseudo-terminals), so nothing done inside reaches the host's /dev.
mount -t tmpfs -o mode=0755,nosuid dev "$root/dev" && mounts+=("$root/dev")
for node in null zero full random urandom tty; do
  touch "$root/dev/$node"
  bind "/dev/$node" "$root/dev/$node"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts" &&
  mounts+=("$root/dev/pts")
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm" && mounts+=("$root/dev/shm")
bind /var/cache/apt/archives "$root/var/cache/apt/archives"
# The compiler cache: the one test.sh's release build filled (LABGATE_FRESH_CCACHE), or the
# check's own between runs.
ccache_dir=${LABGATE_FRESH_CCACHE:-$cache/ccache}
mkdir -p "$ccache_dir"
bind "$ccache_dir" "$root/var/cache/ccache"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The host's network, like resolv.conf: where this machine reaches registries through a proxy
# that re-signs TLS, Node trusts that proxy through NODE_EXTRA_CA_CERTS; the root gets the same
# file, or `npm ci` there fails with SELF_SIGNED_CERT_IN_CHAIN. A newcomer's machine on an
# ordinary network has no such variable, and the check then adds nothing.
extra_ca=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
  cp -L "$NODE_EXTRA_CA_CERTS" "$root/etc/fresh-check-host-ca.crt"
  extra_ca=(NODE_EXTRA_CA_CERTS=/etc/fresh-check-host-ca.crt)
fi
# Keep downloaded .debs (the host cache is shared) and pull bookworm's updates like a real
# install does.
echo 'APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/10keep-debs"
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite" \
  >"$root/etc/apt/sources.list"

mkdir -p "$root/src/labgate"
git -C "$src" archive --format=tar HEAD | tar -xf - -C "$root/src/labgate"
echo "== fresh-check: tree of $(git -C "$src" rev-parse --short HEAD) copied into $root/src/labgate"

in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive CCACHE_DIR=/var/cache/ccache \
    CCACHE_BASEDIR=/src/labgate CCACHE_COMPILERCHECK=content CCACHE_NOHASHDIR=1 \
    LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false LIBNFC_LOG_LEVEL=0 "${extra_ca[@]}" "$@"
}

# The compiler cache is the check's own speed-up, not one of the project's install steps: it is
# installed before the README command runs and CMake picks it up from the environment.
in_root sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ccache' \
  >"$work/ccache-install.log" 2>&1 || {
  tail -n 20 "$work/ccache-install.log" >&2
  fail "apt-get inside the root failed (log above)"
}
phase_done "mount, copy the tree, add ccache"

echo "== fresh-check: ./scripts/demo.sh inside the root"
in_root env CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache \
  sh -c 'cd /src/labgate && ./scripts/demo.sh' >"$work/demo.log" 2>&1 || {
  tail -n 40 "$work/demo.log" >&2
  fail "the README's demo command failed on a fresh $suite (last lines above)"
}
tail -n 4 "$work/demo.log"
phase_done "README demo command (./scripts/demo.sh)"

echo "== fresh-check: build, install and start the Debian package"
in_root bash -s <<'EOF'
set -euo pipefail
cd /src/labgate
say() { echo "   $*"; }
cmake --build build --target labgate-deb >/tmp/package.log 2>&1 || { tail -n 30 /tmp/package.log; exit 1; }
deb=$(ls build/labgate_*.deb)
say "built $deb"
apt-get install -y -qq "./$deb" >/tmp/apt-install.log 2>&1 || { tail -n 30 /tmp/apt-install.log; exit 1; }
say "installed with apt-get install ./$deb"
[ "$(stat -c '%a %U' /var/lib/labgate)" = "750 labgate" ] || { echo "/var/lib/labgate: $(stat -c '%a %U' /var/lib/labgate)"; exit 1; }
say "labgated --version: $(labgated --version)"
say "labgatectl --version: $(labgatectl --version)"
[ -s /usr/share/labgate/console/static/htmx.min.js ] || { echo "the package has no htmx for the console"; exit 1; }
say "the console's htmx: /usr/share/labgate/console/static/htmx.min.js (from package-lock.json)"

labgatectl init --site fresh --gateway gw1 --out /etc/labgate/site.toml
say "labgatectl init wrote /etc/labgate/site.toml ($(stat -c '%a %U:%G' /etc/labgate/site.toml))"
[ "$(stat -c '%a %U:%G' /etc/labgate/site.toml)" = "640 root:labgate" ] || exit 1
labgated --check-config /etc/labgate/site.toml | sed 's/^/   /'

# The README's next step: the sealed record's key, made once by the daemon's user (labgated
# refuses to run without it). The verification key it prints stays in this throwaway root.
setpriv --reuid=labgate --regid=labgate --init-groups -- \
  labgatectl --config /etc/labgate/site.toml --create audit setup --no-qr >/tmp/audit-setup.log 2>&1 ||
  { cat /tmp/audit-setup.log; exit 1; }
key=$(ls /var/lib/labgate/*.seal-key)
[ "$(stat -c '%a %U' "$key")" = "600 labgate" ] || { echo "$key: $(stat -c '%a %U' "$key")"; exit 1; }
say "audit setup as labgate wrote $key (600 labgate)"

# What systemd does for the unit: the runtime directory for the socket, the state directory as
# the working directory, and the daemon as user labgate.
install -d -m 0750 -o labgate -g labgate /run/labgate
cd /var/lib/labgate
setpriv --reuid=labgate --regid=labgate --init-groups -- \
  labgated --config /etc/labgate/site.toml >/tmp/labgated.log 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q "labgated running" /tmp/labgated.log && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q "labgated running" /tmp/labgated.log; then
  cat /tmp/labgated.log
  echo "labgated did not report running within 10 s"
  kill -KILL "$pid" 2>/dev/null || true
  exit 1
fi
say "$(grep -m1 'labgated running' /tmp/labgated.log)"
uid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status")
[ "$uid" = "$(id -u labgate)" ] || { echo "labgated runs as uid $uid, not labgate"; exit 1; }
say "it runs as $(id -un "$uid") (uid $uid), groups: $(id -Gn labgate)"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { cat /tmp/labgated.log; echo "labgated exited $status after SIGTERM"; exit 1; }
say "SIGTERM: labgated exited 0"
EOF
phase_done "package: build, install, start"
echo "== fresh-check: passed"
