package openvpnpeer

// Version selects which OpenVPN a runner starts.
type Version int

const (
	// V26 is Debian bookworm's OpenVPN 2.6, /usr/sbin/openvpn on the host.
	V26 Version = iota
	// V27 is Debian sid's OpenVPN 2.7, run from the chroot that
	// .ci/sid-chroot.sh makes (see SidDir) as
	// `unshare --mount chroot DIR openvpn`, with /dev, /proc and the run's
	// directory (at RunDir27) bind-mounted in a mount namespace of its own.
	V27
)

// String returns "2.6" or "2.7".
func (v Version) String() string {
	if v == V27 {
		return "2.7"
	}
	return "2.6"
}

// RunDir27 is where a 2.7 process sees its run directory (the host
// directory with its configuration, PKI and scripts) inside the chroot.
const RunDir27 = "/cvpn-run"

// runDir is the run directory as the OpenVPN process sees it.
func (v Version) runDir(hostDir string) string {
	if v == V27 {
		return RunDir27
	}
	return hostDir
}
