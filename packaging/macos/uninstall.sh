#!/bin/sh
# Removes what build-pkg.sh's package installed (run with sudo on the Mac).
# The daemon is stopped first; it restores routes and DNS as it exits.
set -e
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run with sudo" >&2; exit 1; }
launchctl bootout system/io.github.cvpn.daemon 2>/dev/null || true
rm -f /Library/LaunchDaemons/io.github.cvpn.daemon.plist /usr/local/bin/cvpn /var/log/cvpn-daemon.log
rm -rf /Applications/cvpn.app /var/run/cvpn /var/lib/cvpn
pkgutil --forget io.github.cvpn.pkg 2>/dev/null || true
echo "cvpn removed"
