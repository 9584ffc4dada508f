#!/usr/bin/env bash
# Makes (once) the Debian sid chroot the tests use to run OpenVPN 2.7 as a
# real lab peer: `debootstrap --variant=minbase --include=openvpn,iproute2 sid`
# into a cache directory, with Debian's mirror from this machine's own apt
# sources. The host's apt sources are not touched. Idempotent: a finished
# chroot (marker file .cvpn-sid) is left alone; a half-made one is redone.
# Concurrent runs serialise on a lock file.
#
# usage: .ci/sid-chroot.sh
# env: CVPN_SID_DIR (/var/cache/cvpn-sid), CVPN_SID_MIRROR (the first Debian
#      mirror in this machine's apt sources, else deb.debian.org)
# Prints the chroot's OpenVPN version line when done.
set -euo pipefail
dir=${CVPN_SID_DIR:-/var/cache/cvpn-sid}
[ "$(id -u)" -eq 0 ] || { echo "sid-chroot.sh: needs root (debootstrap)" >&2; exit 1; }

# mirror: the first non-security Debian URI in this machine's apt sources.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN{RS=""} /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && /(^|\n)URIs:[ \t]*[^ \t\n]*debian/ {
			if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[ \t]*/, "", u); print u }
		}' "$f"
	done
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($i ~ /debian/) print $i }'
}

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ ! -f "$dir/.cvpn-sid" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	bash "$here/deps.sh" debootstrap
	m=${CVPN_SID_MIRROR:-$(mirror | grep -v security | head -n1 || true)}
	m=${m:-http://deb.debian.org/debian}
	echo "sid-chroot.sh: debootstrap --variant=minbase sid from $m into $dir"
	t0=$SECONDS
	rm -rf "$dir.tmp"
	# Its own mount namespace: debootstrap's /proc and /sys mounts end with it.
	unshare --mount --propagation private \
		debootstrap --variant=minbase --include=openvpn,iproute2 sid "$dir.tmp" "$m" >"$dir.log" 2>&1 ||
		{ tail -n 30 "$dir.log"; echo "sid-chroot.sh: debootstrap failed (log: $dir.log)" >&2; exit 1; }
	# No service starts inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$dir.tmp/usr/sbin/policy-rc.d"
	chmod 755 "$dir.tmp/usr/sbin/policy-rc.d"
	rm -f "$dir.tmp/var/cache/apt/archives/"*.deb
	# Where the runners bind-mount a run's directory (openvpnpeer.RunDir27).
	mkdir -p "$dir.tmp/cvpn-run"
	touch "$dir.tmp/.cvpn-sid"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	echo "sid-chroot.sh: made in $((SECONDS - t0)) s"
fi
chroot "$dir" openvpn --version 2>/dev/null | head -n1 || true
