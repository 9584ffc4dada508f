#!/usr/bin/env bash
# Builds the Debian packages into OUTDIR (default build/deb):
#   cvpn_VERSION_ARCH.deb      for every ARCH (default: amd64 arm64)
#   cvpn-gui_VERSION_ARCH.deb  for the ARCHs whose cgo GUI can be built here
#                              (the machine's own arch; others when
#                              CC_<arch> names a cross C compiler)
# with nfpm, run as a pinned Go module. Run from anywhere; paths are
# resolved against the repository root.
#
# usage: packaging/deb.sh [--arch "amd64 arm64"] [--no-gui] [OUTDIR]
# env:   GO (go), VERSION (git describe), NFPM_VERSION (pinned below)
set -euo pipefail

# v2.45.2 is the newest nfpm that builds from the module proxy here: from
# v2.46.0 on it needs go.digitalxero.dev/go-msix, which the proxy refuses.
NFPM_VERSION=${NFPM_VERSION:-v2.45.2}
GO=${GO:-go}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

arches="amd64 arm64"
gui=1
out=build/deb
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arches=$2; shift 2 ;;
	--no-gui) gui=0; shift ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	-*) echo "deb.sh: unknown option $1" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
# Debian versions must start with a digit and may not contain '-' without a
# revision: v1.2.3 -> 1.2.3, v1.2.3-4-gabc -> 1.2.3.4.gabc, abc123 -> 0.0.0~git.abc123.
debversion() {
	local v=${1#v}
	[[ $v =~ ^[0-9]+\.[0-9] ]] || v="0.0.0~git.$v"
	v=${v//-/.}
	printf '%s' "$v" | tr -c 'A-Za-z0-9.+~' '.'
}
DEBVERSION=$(debversion "$VERSION")
LDFLAGS="-s -w -X main.version=$VERSION"
nfpm() { GOWORK=off "$GO" run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" "$@"; }

mkdir -p "$out" build
work=$(mktemp -d build/deb-stage.XXXXXX)
trap 'rm -rf "$work"' EXIT
icons=$work/icons
[ "$gui" = 0 ] || "$GO" run ./packaging/cmd/mkicons -out "$icons"
hostarch=$("$GO" env GOHOSTARCH)

for arch in $arches; do
	stage=$work/$arch
	mkdir -p "$stage"
	echo "deb.sh: cvpn $DEBVERSION $arch"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$stage/cvpn" ./cmd/cvpn
	ARCH=$arch VERSION=$DEBVERSION STAGE=$stage nfpm pkg --packager deb \
		--config packaging/linux/nfpm-cvpn.yaml --target "$out/cvpn_${DEBVERSION}_$arch.deb"
	[ "$gui" = 1 ] || continue
	ccvar=CC_$arch
	if [ "$arch" != "$hostarch" ] && [ -z "${!ccvar:-}" ]; then
		echo "deb.sh: skipping cvpn-gui for $arch: the GUI needs cgo; set $ccvar to a cross C compiler (with $arch X11/GL libraries) to build it"
		continue
	fi
	echo "deb.sh: cvpn-gui $DEBVERSION $arch"
	CC=${!ccvar:-${CC:-gcc}} CGO_ENABLED=1 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$stage/cvpn-gui" ./cmd/cvpn-gui
	ARCH=$arch VERSION=$DEBVERSION STAGE=$stage ICONS=$icons nfpm pkg --packager deb \
		--config packaging/linux/nfpm-cvpn-gui.yaml --target "$out/cvpn-gui_${DEBVERSION}_$arch.deb"
done
ls -l "$out"
