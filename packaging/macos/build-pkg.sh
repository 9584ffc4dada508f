#!/usr/bin/env bash
# Builds the macOS installer build/macos/cvpn-VERSION.pkg. Runs on a Mac
# with Go and the Xcode command line tools (clang, lipo, pkgbuild,
# productbuild). Run by the macOS job of .github/workflows/ci.yml; not on Linux, which has neither the macOS SDK for the cgo
# GUI nor the package tools.
#
# The package installs:
#   /Applications/cvpn.app                         the desktop app (universal)
#   /usr/local/bin/cvpn                            the CLI and daemon (universal)
#   /Library/LaunchDaemons/io.github.cvpn.daemon.plist
# and its postinstall script (re)loads the LaunchDaemon.
#
# usage: packaging/macos/build-pkg.sh [VERSION]
# env:   SIGN_APP="Developer ID Application: ..."  codesign the binaries
#        SIGN_PKG="Developer ID Installer: ..."    sign the .pkg
set -euo pipefail
[ "$(uname -s)" = Darwin ] || { echo "build-pkg.sh: run this on macOS (pkgbuild and the macOS SDK are needed)" >&2; exit 1; }
for tool in go lipo pkgbuild productbuild; do
	command -v "$tool" >/dev/null || { echo "build-pkg.sh: $tool not found (install Go and the Xcode command line tools)" >&2; exit 1; }
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
VERSION=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-s -w -X main.version=$VERSION"
work=build/macos/work
rm -rf "$work"
mkdir -p "$work/bin" "$work/root/usr/local/bin" "$work/root/Applications" "$work/root/Library/LaunchDaemons" "$work/scripts"

for arch in amd64 arm64; do
	CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$work/bin/cvpn-$arch" ./cmd/cvpn
	CGO_ENABLED=1 GOOS=darwin GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$work/bin/cvpn-gui-$arch" ./cmd/cvpn-gui
done
lipo -create -output "$work/root/usr/local/bin/cvpn" "$work/bin/cvpn-amd64" "$work/bin/cvpn-arm64"
lipo -create -output "$work/bin/cvpn-gui" "$work/bin/cvpn-gui-amd64" "$work/bin/cvpn-gui-arm64"

go run ./packaging/cmd/mkicons -out "$work/icons"
packaging/macos/make-app.sh "$work/root/Applications" "$VERSION" "$work/icons/cvpn.icns" "$work/bin/cvpn-gui"
install -m 0644 packaging/macos/io.github.cvpn.daemon.plist "$work/root/Library/LaunchDaemons/"
plutil -lint "$work/root/Library/LaunchDaemons/io.github.cvpn.daemon.plist" "$work/root/Applications/cvpn.app/Contents/Info.plist"

if [ -n "${SIGN_APP:-}" ]; then
	codesign --force --options runtime --timestamp --sign "$SIGN_APP" "$work/root/usr/local/bin/cvpn"
	codesign --force --options runtime --timestamp --sign "$SIGN_APP" "$work/root/Applications/cvpn.app"
fi

cat >"$work/scripts/preinstall" <<'SCRIPT'
#!/bin/sh
# Stop a running daemon (it restores routes and DNS on SIGTERM) before its files are replaced.
launchctl bootout system/io.github.cvpn.daemon 2>/dev/null || true
exit 0
SCRIPT
cat >"$work/scripts/postinstall" <<'SCRIPT'
#!/bin/sh
set -e
chown root:wheel /Library/LaunchDaemons/io.github.cvpn.daemon.plist
chmod 0644 /Library/LaunchDaemons/io.github.cvpn.daemon.plist
launchctl bootout system/io.github.cvpn.daemon 2>/dev/null || true
launchctl bootstrap system /Library/LaunchDaemons/io.github.cvpn.daemon.plist
launchctl enable system/io.github.cvpn.daemon
exit 0
SCRIPT
chmod 755 "$work/scripts/preinstall" "$work/scripts/postinstall"

short=$(printf '%s' "${VERSION#v}" | sed -nE 's/^([0-9]+\.[0-9]+(\.[0-9]+)?)([^0-9.].*)?$/\1/p')
[ -n "$short" ] || short=0.0.0
pkgbuild --root "$work/root" --identifier io.github.cvpn.pkg --version "$short" \
	--scripts "$work/scripts" --install-location / --ownership recommended "$work/cvpn-component.pkg"
sign=()
[ -n "${SIGN_PKG:-}" ] && sign=(--sign "$SIGN_PKG")
productbuild --package "$work/cvpn-component.pkg" ${sign[@]+"${sign[@]}"} "build/macos/cvpn-$VERSION.pkg"
echo "build-pkg.sh: build/macos/cvpn-$VERSION.pkg"
