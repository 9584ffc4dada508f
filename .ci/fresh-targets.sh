#!/usr/bin/env bash
# Runs make targets the way a fresh Debian 12 machine would: each TARGET in
# its own throwaway bookworm chroot made from a cached
# `debootstrap --variant=minbase` base with only make and git added (what a
# user who cloned the repository and typed make has), the Go toolchain
# (/usr/local/go) bind-mounted read-only, and a clone of HEAD as the source
# tree. Nothing else is installed: each target must install what it needs
# (apt packages through .ci/deps.sh, Go modules through the module proxy).
#
# Each run is an overlay on the cached base, in its own mount and PID
# namespace: every mount and every process in it ends with the run, also on
# failure, and the base stays untouched. Targets needing network namespaces
# (demo, test) are not run here; CI runs them on the host.
#
# usage: .ci/fresh-targets.sh [--gocache DIR] [--keep] TARGET...
#   --gocache DIR  use DIR (created if missing) as the chroot's Go build
#                  cache instead of an empty one (a warm cache: faster, but
#                  a compile it already holds does not need the headers again)
#   --keep         leave the runs' overlay directories for inspection
# env: FRESH_DIR (/var/cache/cvpn-fresh: base/ and runs/), FRESH_MIRROR (the
#      first Debian mirror in this machine's apt sources), GO (go),
#      FRESH_TIMEOUT (per target, default 40m), FRESH_REV (the commit to
#      check out, default HEAD)
# Logs: build/fresh/TARGET.log; a summary with each target's time at the end.
# Uncommitted changes are not in the clone: commit first.
set -euo pipefail

# --- inner: run inside `unshare --mount --pid --fork`, one target ---------
if [ "${1:-}" = --inner ]; then
	run=$2 target=$3 gocache=$4 goproxy=$5 mods=$6
	base=$FRESH_DIR/base
	root=$run/root
	mounted=()
	cleanup() {
		local i
		for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
			umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
		done
	}
	trap cleanup EXIT
	mnt() { # mnt DIR mount-args...: mount on DIR and remember it for cleanup
		local dir=$1
		shift
		mkdir -p "$dir"
		mount "$@" "$dir"
		mounted+=("$dir")
	}
	mkdir -p "$run/upper" "$run/work"
	mnt "$root" -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work"
	mnt "$root/proc" -t proc proc
	mnt "$root/dev" --bind /dev
	mnt "$root/dev/pts" --bind /dev/pts
	mnt "$root/usr/local/go" --bind -o ro /usr/local/go
	if [ -d "$mods" ]; then
		mnt "$root/mnt/gomodcache" --bind -o ro "$mods"
	fi
	if [ -n "$gocache" ]; then
		mnt "$root/root/.cache/go-build" --bind "$gocache"
	fi
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# The source: a clone of HEAD, as a user's `git clone` would make it.
	git clone -q "$SRC" "$root/root/cvpn"
	git -C "$root/root/cvpn" checkout -q --detach "$HEAD_SHA"
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		GOPROXY="$goproxy" \
		timeout "$FRESH_TIMEOUT" bash -c 'cd /root/cvpn && make "$1"' make "$target"
	exit
fi

# --- outer ----------------------------------------------------------------
gocache= keep=0 targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--gocache) gocache=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,25p' "$0"; exit 0 ;;
	-*) echo "fresh-targets.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || { echo "usage: $0 [--gocache DIR] [--keep] TARGET..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh-targets.sh: needs root (debootstrap, mount, chroot)" >&2; exit 1; }
[ -x /usr/local/go/bin/go ] || { echo "fresh-targets.sh: needs the Go toolchain in /usr/local/go (bind-mounted into the chroot)" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$here/.." && pwd)
cd "$SRC"
GO=${GO:-go}
export FRESH_DIR=${FRESH_DIR:-/var/cache/cvpn-fresh}
export FRESH_TIMEOUT=${FRESH_TIMEOUT:-40m}
export SRC HEAD_SHA
HEAD_SHA=$(git rev-parse "${FRESH_REV:-HEAD}^{commit}")
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
	echo "fresh-targets.sh: warning: uncommitted changes are not checked (the chroot gets a clone of HEAD $HEAD_SHA)"
bash "$here/deps.sh" debootstrap

# mirror: the first URI this machine's apt sources use for bookworm.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN{RS=""} /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ && /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ {
			if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[ \t]*/, "", u); print u }
		}' "$f"
	done
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i+1) == "bookworm") print $i }'
}
MIRROR=${FRESH_MIRROR:-$(mirror | grep -v security | head -n1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

base=$FRESH_DIR/base
if [ ! -f "$base/.cvpn-fresh-base" ]; then
	echo "fresh-targets.sh: debootstrap --variant=minbase bookworm from $MIRROR into $base"
	t0=$SECONDS
	rm -rf "$base.tmp"
	mkdir -p "$FRESH_DIR"
	# Its own mount namespace: debootstrap's /proc mounts end with it.
	unshare --mount --propagation private \
		debootstrap --variant=minbase --include=make,git bookworm "$base.tmp" "$MIRROR" >"$FRESH_DIR/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$FRESH_DIR/debootstrap.log"; echo "fresh-targets.sh: debootstrap failed (log: $FRESH_DIR/debootstrap.log)" >&2; exit 1; }
	printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" >"$base.tmp/etc/apt/sources.list"
	# No service starts inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$base.tmp/usr/sbin/policy-rc.d"
	chmod 755 "$base.tmp/usr/sbin/policy-rc.d"
	rm -rf "$base.tmp/var/cache/apt/archives/"*.deb "$base.tmp/var/lib/apt/lists/"*_Packages 2>/dev/null || true
	touch "$base.tmp/.cvpn-fresh-base"
	rm -rf "$base"
	mv "$base.tmp" "$base"
	echo "fresh-targets.sh: base made in $((SECONDS - t0)) s"
fi

goproxy=$("$GO" env GOPROXY)
mods=$("$GO" env GOMODCACHE)
# Modules already in this machine's cache come from it (read-only, as a
# file:// proxy); the rest from the module proxy, as on any machine.
goproxy="file:///mnt/gomodcache/cache/download,$goproxy"
[ -z "$gocache" ] || { mkdir -p "$gocache"; gocache=$(cd "$gocache" && pwd); }
mkdir -p build/fresh "$FRESH_DIR/runs"

# no_mounts DIR: true when nothing is mounted at or under DIR.
no_mounts() { ! awk '{print $5}' /proc/self/mountinfo | grep -q "^$1\(/\|$\)"; }

summary=() failed=0
for target in "${targets[@]}"; do
	run=$(mktemp -d "$FRESH_DIR/runs/$target.XXXXXX")
	log=build/fresh/$target.log
	echo "fresh-targets.sh: make $target in a fresh bookworm chroot (log: $log)"
	t0=$SECONDS
	rc=0
	unshare --mount --pid --fork --propagation private \
		bash "$here/fresh-targets.sh" --inner "$run" "$target" "$gocache" "$goproxy" "$mods" >"$log" 2>&1 || rc=$?
	secs=$((SECONDS - t0))
	if [ "$keep" = 0 ]; then
		if no_mounts "$run"; then
			rm -rf "$run"
		else
			echo "fresh-targets.sh: $run still has mounts; not removed" >&2
		fi
	fi
	if [ "$rc" = 0 ]; then
		summary+=("ok    make $target  ${secs}s")
	else
		failed=1
		summary+=("FAIL  make $target  ${secs}s (exit $rc, log $log)")
		tail -n 25 "$log"
	fi
done
printf 'fresh-targets.sh: %s\n' "${summary[@]}"
exit "$failed"
