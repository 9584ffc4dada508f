#!/usr/bin/env bash
# Lays out the macOS app bundle OUTDIR/cvpn.app from the hand-made
# Info.plist.in (bundle id io.github.cvpn, the fyne app id) and the icon:
#   cvpn.app/Contents/Info.plist
#   cvpn.app/Contents/PkgInfo
#   cvpn.app/Contents/Resources/cvpn.icns
#   cvpn.app/Contents/MacOS/cvpn-gui   (only when GUI_BINARY is given: the
#                                       fyne GUI needs cgo and the macOS SDK,
#                                       so it is built on a Mac)
#
# usage: packaging/macos/make-app.sh OUTDIR VERSION ICNS [GUI_BINARY]
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 OUTDIR VERSION ICNS [GUI_BINARY]" >&2
	exit 2
fi
out=$1 version=$2 icns=$3 gui=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
# CFBundleShortVersionString must be up to three dot-separated integers.
short=$(printf '%s' "${version#v}" | sed -nE 's/^([0-9]+\.[0-9]+(\.[0-9]+)?)([^0-9.].*)?$/\1/p')
[ -n "$short" ] || short=0.0.0
app=$out/cvpn.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
# Escape the XML specials of the free-form version before substituting it.
xmlversion=$(printf '%s' "$version" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
# ... and the characters special in a sed replacement.
xmlversion=$(printf '%s' "$xmlversion" | sed -e 's/[\\|&]/\\&/g')
sed -e "s|@SHORT_VERSION@|$short|g" -e "s|@VERSION@|$xmlversion|g" "$here/Info.plist.in" >"$app/Contents/Info.plist"
printf 'APPL????' >"$app/Contents/PkgInfo"
cp "$icns" "$app/Contents/Resources/cvpn.icns"
if [ -n "$gui" ]; then
	cp "$gui" "$app/Contents/MacOS/cvpn-gui"
	chmod 755 "$app/Contents/MacOS/cvpn-gui"
fi
