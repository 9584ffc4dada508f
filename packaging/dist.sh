#!/usr/bin/env bash
# Builds the release files into OUTDIR (default build/dist):
#   cvpn-{linux,darwin,windows}-{amd64,arm64}[.exe]  the CLI/daemon, CGO_ENABLED=0
#   cvpn-gui-linux-HOSTARCH                          the desktop app (cgo, built natively)
#   cvpn-windows-{amd64,arm64}.zip                   cvpn/ with cvpn.exe, cvpn-gui.exe (only
#                                                    when a mingw-w64 C compiler is found),
#                                                    README-windows.txt, installer/cvpn.wxs + cvpn.ico,
#                                                    policy/cvpn.admx + en-US/cvpn.adml (Group Policy)
#   macos/cvpn.app                                   app bundle layout (Info.plist, icon; the GUI
#                                                    binary itself is built on a Mac by build-pkg.sh)
#   macos/io.github.cvpn.daemon.plist                the LaunchDaemon
#   macos/cvpn-policy.mobileconfig                   example configuration profile (the policy by MDM)
#   SHA256SUMS                                       of every file above at the top level
#
# usage: packaging/dist.sh [OUTDIR]
# env:   GO (go), VERSION (git describe), CC_WINDOWS_AMD64 / CC_WINDOWS_ARM64 (mingw-w64 compilers)
set -euo pipefail
GO=${GO:-go}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
out=${1:-build/dist}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-s -w -X main.version=$VERSION"
rm -rf "$out/macos"
mkdir -p "$out" build
work=$(mktemp -d build/dist-stage.XXXXXX)
trap 'rm -rf "$work"' EXIT

for os in linux darwin windows; do
	for arch in amd64 arm64; do
		ext=; [ "$os" = windows ] && ext=.exe
		echo "dist: cvpn $os/$arch"
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out/cvpn-$os-$arch$ext" ./cmd/cvpn
	done
done

hostarch=$("$GO" env GOHOSTARCH)
echo "dist: cvpn-gui linux/$hostarch"
CGO_ENABLED=1 "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out/cvpn-gui-linux-$hostarch" ./cmd/cvpn-gui

"$GO" run ./packaging/cmd/mkicons -out "$work/icons"

for arch in amd64 arm64; do
	dir=$work/windows-$arch/cvpn
	mkdir -p "$dir/installer" "$dir/policy/en-US"
	cp "$out/cvpn-windows-$arch.exe" "$dir/cvpn.exe"
	cp packaging/windows/README-windows.txt "$dir/"
	cp packaging/windows/cvpn.wxs "$work/icons/cvpn.ico" "$dir/installer/"
	cp packaging/windows/admx/cvpn.admx "$dir/policy/"
	cp packaging/windows/admx/en-US/cvpn.adml "$dir/policy/en-US/"
	default_cc=x86_64-w64-mingw32-gcc
	[ "$arch" = arm64 ] && default_cc=aarch64-w64-mingw32-gcc
	ccvar=CC_WINDOWS_${arch^^}
	cc=${!ccvar:-$default_cc}
	if command -v "$cc" >/dev/null 2>&1; then
		echo "dist: cvpn-gui windows/$arch with $cc"
		CC=$cc CGO_ENABLED=1 GOOS=windows GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS -H windowsgui" -o "$dir/cvpn-gui.exe" ./cmd/cvpn-gui
	else
		echo "dist: no cvpn-gui.exe in the windows/$arch zip: the GUI needs cgo and $cc is not installed (set $ccvar)"
	fi
	rm -f "$out/cvpn-windows-$arch.zip"
	"$GO" run ./packaging/cmd/mkzip -o "$out/cvpn-windows-$arch.zip" "$dir"
done

mkdir -p "$out/macos"
packaging/macos/make-app.sh "$out/macos" "$VERSION" "$work/icons/cvpn.icns"
cp packaging/macos/io.github.cvpn.daemon.plist packaging/macos/cvpn-policy.mobileconfig "$out/macos/"

(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "dist: files in $out:"
cat "$out/SHA256SUMS"
