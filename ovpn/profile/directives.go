package profile

import "strings"

// dirKind says how a directive is handled.
type dirKind int

const (
	kindSupported dirKind = iota // understood and used
	kindIgnored                  // harmless: warned and ignored
	kindScript                   // runs a script: warned, never executed
	kindRefused                  // cannot work with cvpn: error
)

// dirSpec describes one directive: argument counts (max -1 = any), a usage
// line for wrong argument counts, and for refused directives the reason.
type dirSpec struct {
	kind   dirKind
	min    int
	max    int
	usage  string
	reason string
}

// multiDirectives may appear several times; any other directive repeated
// gets a warning that the last one wins.
func multiDirective(name string) bool {
	switch name {
	case "remote", "route", "route-ipv6", "dhcp-option", "pull-filter", "setenv",
		"ignore-unknown-option":
		return true
	}
	return false
}

// inlineable directives take a file path or an inline <block>.
func inlineable(name string) bool {
	switch name {
	case "ca", "cert", "key", "tls-auth", "tls-crypt", "tls-crypt-v2":
		return true
	}
	return false
}

func supported(min, max int, usage string) dirSpec {
	return dirSpec{kind: kindSupported, min: min, max: max, usage: usage}
}

// lookupDirective returns the spec of a directive name.
func lookupDirective(name string) (dirSpec, bool) {
	switch name {
	case "client", "tls-client", "pull", "nobind", "persist-key", "persist-tun", "float",
		"remote-random-hostname", "auth-federate", "auth-nocache":
		return supported(0, 0, name), true
	case "dev":
		return supported(1, 1, "dev tun"), true
	case "dev-type":
		return supported(1, 1, "dev-type tun"), true
	case "proto":
		return supported(1, 1, "proto udp|tcp"), true
	case "remote":
		return supported(1, 3, "remote HOST [PORT] [udp|tcp]"), true
	case "port", "rport":
		return supported(1, 1, name+" PORT"), true
	case "resolv-retry":
		return supported(1, 1, "resolv-retry infinite|SECONDS"), true
	case "auth-user-pass":
		return supported(0, 1, "auth-user-pass [FILE]"), true
	case "auth-retry":
		return supported(1, 1, "auth-retry none|nointeract|interact"), true
	case "static-challenge":
		return supported(2, 3, `static-challenge "TEXT" 0|1`), true
	case "cryptoapicert":
		return supported(1, 1, `cryptoapicert "SUBJ:name"`), true
	case "ca", "cert", "key", "tls-crypt", "tls-crypt-v2":
		return supported(1, 1, name+" FILE (or an inline <"+name+"> block)"), true
	case "tls-auth":
		return supported(1, 2, "tls-auth FILE [0|1] (or an inline <tls-auth> block)"), true
	case "key-direction":
		return supported(1, 1, "key-direction 0|1"), true
	case "cipher":
		return supported(1, 1, "cipher NAME"), true
	case "data-ciphers", "ncp-ciphers":
		return supported(1, 1, name+" CIPHER:CIPHER:..."), true
	case "auth":
		return supported(1, 1, "auth DIGEST"), true
	case "route":
		return supported(1, 4, "route NETWORK [NETMASK] [GATEWAY|vpn_gateway|net_gateway] [METRIC]"), true
	case "route-ipv6":
		return supported(1, 3, "route-ipv6 NETWORK/BITS [GATEWAY|net_gateway] [METRIC]"), true
	case "ifconfig-ipv6":
		return supported(2, 2, "ifconfig-ipv6 ADDRESS/BITS REMOTE"), true
	case "dhcp-option":
		return supported(1, 2, "dhcp-option TYPE [VALUE]"), true
	case "remote-cert-tls":
		return supported(1, 1, "remote-cert-tls server"), true
	case "verify-x509-name":
		return supported(1, 2, "verify-x509-name NAME [subject|name|name-prefix]"), true
	case "reneg-sec":
		return supported(1, 2, "reneg-sec SECONDS [MIN]"), true
	case "ping", "ping-restart", "ping-exit", "server-poll-timeout", "connect-retry-max",
		"tun-mtu", "tun-mtu-extra", "sndbuf", "rcvbuf", "verb", "tap-sleep":
		return supported(1, 1, name+" NUMBER"), true
	case "keepalive":
		return supported(2, 2, "keepalive INTERVAL TIMEOUT"), true
	case "inactive":
		return supported(1, 2, "inactive SECONDS [BYTES]"), true
	case "pull-filter":
		return supported(2, 2, `pull-filter accept|ignore|reject "TEXT"`), true
	case "mssfix":
		return supported(0, 2, "mssfix [BYTES [mtu|fixed]]"), true
	case "connect-retry":
		return supported(1, 2, "connect-retry SECONDS [MAX]"), true
	case "explicit-exit-notify":
		return supported(0, 1, "explicit-exit-notify [N]"), true
	case "comp-lzo":
		return supported(0, 1, "comp-lzo no"), true
	case "compress":
		return supported(0, 1, "compress stub|stub-v2"), true
	case "setenv":
		return supported(1, -1, "setenv NAME VALUE"), true
	case "script-security":
		return supported(1, 2, "script-security LEVEL"), true
	case "ignore-unknown-option":
		return supported(1, -1, "ignore-unknown-option NAME..."), true

	case "up", "down", "route-up", "route-pre-down", "ipchange", "auth-user-pass-verify",
		"tls-verify", "client-connect", "client-disconnect", "learn-address", "down-pre":
		return dirSpec{kind: kindScript, min: 0, max: -1}, true

	case "mute", "mute-replay-warnings", "status", "log", "log-append", "suppress-timestamps",
		"machine-readable-output", "route-delay", "route-method", "block-outside-dns",
		"tls-version-min", "tls-version-max", "tls-cipher", "tls-ciphersuites", "tls-groups",
		"remote-cert-ku", "remote-cert-eku", "allow-compression", "user", "group",
		"persist-remote-ip", "push-peer-info", "windows-driver", "ping-timer-rem",
		"hand-window", "tls-timeout", "tran-window", "replay-window", "register-dns",
		"ip-win32", "auth-token-user", "management", "management-query-passwords",
		"management-hold", "daemon", "writepid", "chroot", "topology":
		return dirSpec{kind: kindIgnored, min: 0, max: -1}, true

	case "secret":
		return refused("static key mode (secret) is not supported; AWS Client VPN and cvpn use TLS: remove the line and use a <ca> block"), true
	case "connection":
		return refused("<connection> blocks are not supported: write each server as a remote HOST PORT PROTO line"), true
	case "ns-cert-type":
		return refused("ns-cert-type was removed in OpenVPN 2.5: use remote-cert-tls server"), true
	case "server", "mode", "tls-server", "ifconfig", "ifconfig-pool", "push", "client-to-client",
		"duplicate-cn", "dh", "crl-verify", "client-config-dir", "local", "lport", "bind":
		return refused(name + " is a server or point-to-point option and is not supported in a client profile: remove it"), true
	case "http-proxy", "http-proxy-option", "socks-proxy", "http-proxy-user-pass":
		return refused(name + " is not supported: cvpn connects to the endpoint directly"), true
	case "pkcs12":
		return refused("pkcs12 is not supported: convert it with openssl pkcs12 -in FILE -nodes and use <ca>, <cert> and <key> blocks"), true
	case "askpass":
		return refused("askpass (passphrase-protected keys) is not supported: decrypt the key with openssl pkey and inline it"), true
	case "redirect-gateway", "redirect-private", "route-nopull", "route-noexec", "ifconfig-noexec", "route-gateway", "route-metric", "block-ipv6":
		return refused(name + " is not supported in a profile: the endpoint pushes the routing it wants"), true
	case "extra-certs", "engine", "providers", "pkcs11-providers", "pkcs11-id", "management-external-key", "management-external-cert":
		return refused(name + " is not supported: put the client certificate chain in <cert> and the key in <key>"), true
	}
	return dirSpec{}, false
}

func refused(reason string) dirSpec {
	return dirSpec{kind: kindRefused, min: 0, max: -1, reason: reason}
}

// knownNames lists supported directive names for "did you mean" hints.
const knownNames = "client tls-client pull nobind persist-key persist-tun float remote-random-hostname " +
	"auth-federate auth-nocache dev dev-type proto remote port rport resolv-retry auth-user-pass " +
	"auth-retry static-challenge cryptoapicert ca cert key tls-crypt tls-crypt-v2 tls-auth " +
	"key-direction cipher data-ciphers auth route route-ipv6 ifconfig-ipv6 dhcp-option " +
	"remote-cert-tls verify-x509-name reneg-sec ping ping-restart ping-exit server-poll-timeout " +
	"connect-retry-max tun-mtu tun-mtu-extra sndbuf rcvbuf verb tap-sleep keepalive inactive " +
	"pull-filter mssfix connect-retry explicit-exit-notify comp-lzo compress setenv script-security"

// suggest returns the supported directive closest to name, or "".
func suggest(name string) string {
	best, bestD := "", 3
	if len(name) > 64 {
		return ""
	}
	for _, k := range strings.Fields(knownNames) {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
