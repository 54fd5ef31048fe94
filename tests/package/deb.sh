#!/usr/bin/env bash
# Builds the Debian package from an already built tree (cpack, into a temporary folder) and
# checks what dpkg-deb says it holds. Usage: deb.sh BUILD_DIR VERSION DPKG_DEB
set -euo pipefail
build=$1
version=$2
dpkg_deb=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log"
  exit 1
}
deb=$(ls "$out"/labgate_"$version"_*.deb)
echo "built $(basename "$deb")"
contents=$("$dpkg_deb" -c "$deb")
info=$("$dpkg_deb" -I "$deb")
status=0
need() {
  if ! grep -Eq "$2" <<<"$1"; then
    echo "FAIL: $3"
    status=1
  fi
}
for tool in labgated labgatectl labgate-mqtt-sign labgate-console; do
  need "$contents" "^-rwxr-xr-x root/root .* \./usr/bin/$tool\$" "no /usr/bin/$tool"
  need "$contents" " \./usr/share/man/man1/$tool\.1\.gz\$" "no man page for $tool"
done
need "$contents" " \./lib/systemd/system/labgated\.service\$" "no systemd unit"
need "$contents" " \./lib/systemd/system/labgate-console\.service\$" "no console unit"
need "$contents" " \./usr/share/labgate/console/static/console\.js\$" "no console script"
need "$contents" " \./etc/labgate/labgate\.reference\.toml\$" "no reference config in /etc/labgate"
# The console serves htmx from the package, never from elsewhere at run time.
need "$contents" "^-rw-r--r-- root/root .* \./usr/share/labgate/console/static/htmx\.min\.js\$" \
  "no htmx for the console in /usr/share/labgate/console/static"
# And uPlot, which draws the ward report's charts, likewise.
need "$contents" "^-rw-r--r-- root/root .* \./usr/share/labgate/console/static/uPlot\.iife\.min\.js\$" \
  "no uPlot for the console in /usr/share/labgate/console/static"
need "$info" "^ Package: labgate\$" "package name is not labgate"
need "$info" "^ Version: ${version//./\\.}\$" "package version is not $version"
# shlibdeps computed the libraries the binaries link.
need "$info" "^ Depends: .*libnfc6" "Depends lacks libnfc (shlibdeps)"
need "$info" "^ Depends: .*libsqlite3-0" "Depends lacks libsqlite3 (shlibdeps)"
need "$info" "^ Depends: .*passwd" "Depends lacks passwd (postinst uses useradd)"
need "$info" "^ Depends: .*weasyprint" "Depends lacks weasyprint (invoice PDFs)"
need "$info" " postinst" "no postinst"
need "$info" " conffiles" "no conffiles"

"$dpkg_deb" -e "$deb" "$out/control"
need "$(cat "$out/control/conffiles")" "^/etc/labgate/labgate\.reference\.toml\$" \
  "the reference config is not a conffile"
need "$(cat "$out/control/postinst")" "useradd --system" "postinst does not create the user"
need "$(cat "$out/control/postinst")" "dialout" "postinst does not add labgate to dialout"
need "$(cat "$out/control/postinst")" "install -d -m 0750 -o labgate -g labgate /var/lib/labgate" \
  "postinst does not create /var/lib/labgate 0750"
# The unit it ships is the hardened one: never root.
"$dpkg_deb" -x "$deb" "$out/root"
need "$(cat "$out/root/lib/systemd/system/labgated.service")" "^User=labgate\$" \
  "the unit does not run as labgate"
# The console yields the CPU to labgated (config/labgate-console.service says why).
console_unit=$(cat "$out/root/lib/systemd/system/labgate-console.service")
need "$console_unit" "^Nice=10\$" "the console unit does not lower its priority (Nice=10)"
need "$console_unit" "^CPUWeight=20\$" "the console unit does not lower its CPU weight (CPUWeight=20)"
[ "$status" -eq 0 ] && echo "ok: binaries, man pages, unit, conffile, postinst, shlibdeps, console static files"
exit "$status"
