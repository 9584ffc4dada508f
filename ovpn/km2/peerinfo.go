package km2

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// IV_PROTO bits (OpenVPN 2.6 and 2.7 ssl.h; docs/openvpn-27-wire.md).
const (
	IVProtoDataV2        = 1 << 1  // P_DATA_V2 with peer-id
	IVProtoRequestPush   = 1 << 2  // client sends PUSH_REQUEST without waiting
	IVProtoTLSKeyExport  = 1 << 3  // key derivation with the TLS exporter (EKM)
	IVProtoAuthPendingKW = 1 << 4  // AUTH_PENDING with keywords (timeout N)
	IVProtoNCPP2P        = 1 << 5  // NCP in p2p mode
	IVProtoDNSOption     = 1 << 6  // --dns option, 2.6 draft (2.7 no longer sends it)
	IVProtoCCExitNotify  = 1 << 7  // EXIT control message and protocol-flags
	IVProtoAuthFailTemp  = 1 << 8  // AUTH_FAILED,TEMP
	IVProtoDynTLSCrypt   = 1 << 9  // dynamic tls-crypt on renegotiation
	IVProtoDataEpoch     = 1 << 10 // epoch data keys (aead-epoch)
	IVProtoDNSOptionV2   = 1 << 11 // the dns option as 2.7 defines it
	IVProtoPushUpdate    = 1 << 12 // PUSH_UPDATE
)

// ClientIVProto is the IV_PROTO a cvpn client advertises: DATA_V2,
// REQUEST_PUSH, TLS_KEY_EXPORT, AUTH_PENDING_KW, CC_EXIT_NOTIFY,
// AUTH_FAIL_TEMP, DYN_TLS_CRYPT, DATA_EPOCH, DNS_OPTION_V2 and PUSH_UPDATE.
const ClientIVProto = IVProtoDataV2 | IVProtoRequestPush | IVProtoTLSKeyExport |
	IVProtoAuthPendingKW | IVProtoCCExitNotify | IVProtoAuthFailTemp | IVProtoDynTLSCrypt |
	IVProtoDataEpoch | IVProtoDNSOptionV2 | IVProtoPushUpdate

// PeerInfo builds the peer_info block a client sends in key method 2.
type PeerInfo struct {
	Version    string   // IV_VER, e.g. "2.6.12"
	Platform   string   // IV_PLAT: linux, mac or win (see PlatformName)
	PlatVer    string   // IV_PLAT_VER, optional
	Proto      uint32   // IV_PROTO bits
	Ciphers    []string // IV_CIPHERS; also sets IV_NCP=2 when not empty
	MTU        int      // IV_MTU, 0 = omitted
	SSO        []string // IV_SSO methods: openurl, webauth, crtext
	GUIVersion string   // IV_GUI_VER, optional
	HWAddr     string   // IV_HWADDR, optional
	// Extra holds further lines (for example UV_* variables) as KEY=VALUE.
	Extra []string
}

// PlatformName maps a GOOS value to the IV_PLAT spelling.
func PlatformName(goos string) string {
	switch goos {
	case "darwin":
		return "mac"
	case "windows":
		return "win"
	}
	return goos
}

// String renders the peer_info block: one KEY=VALUE per line, each line
// ending in a newline.
func (p PeerInfo) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(sanitize(v))
		b.WriteByte('\n')
	}
	line("IV_VER", p.Version)
	line("IV_PLAT", p.Platform)
	line("IV_PLAT_VER", p.PlatVer)
	line("IV_PROTO", strconv.FormatUint(uint64(p.Proto), 10))
	if len(p.Ciphers) > 0 {
		line("IV_NCP", "2")
		line("IV_CIPHERS", strings.Join(p.Ciphers, ":"))
	}
	if p.MTU > 0 {
		line("IV_MTU", strconv.Itoa(p.MTU))
	}
	if len(p.SSO) > 0 {
		line("IV_SSO", strings.Join(p.SSO, ","))
	}
	line("IV_GUI_VER", p.GUIVersion)
	line("IV_HWADDR", p.HWAddr)
	for _, e := range p.Extra {
		if k, v, ok := strings.Cut(e, "="); ok && k != "" {
			line(k, v)
		}
	}
	return b.String()
}

// sanitize keeps values on one line and free of NULs.
func sanitize(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, v)
}

// PeerInfoMap is a parsed peer_info block (server side).
type PeerInfoMap map[string]string

// ParsePeerInfo parses KEY=VALUE lines; lines without '=' are ignored and
// later keys override earlier ones.
func ParsePeerInfo(s string) PeerInfoMap {
	m := PeerInfoMap{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if k, v, ok := strings.Cut(l, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// Proto returns IV_PROTO (0 when absent or malformed).
func (m PeerInfoMap) Proto() uint32 {
	v, err := strconv.ParseUint(m["IV_PROTO"], 10, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}

// Ciphers returns IV_CIPHERS split on ':'.
func (m PeerInfoMap) Ciphers() []string {
	if m["IV_CIPHERS"] == "" {
		return nil
	}
	return strings.Split(m["IV_CIPHERS"], ":")
}

// SSO returns the IV_SSO methods.
func (m PeerInfoMap) SSO() []string {
	if m["IV_SSO"] == "" {
		return nil
	}
	return strings.Split(m["IV_SSO"], ",")
}

// String renders the map in sorted key order.
func (m PeerInfoMap) String() string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

// NegotiateCipher picks the first of the server's data ciphers that the
// client lists in IV_CIPHERS (case-insensitive). ok is false when none match.
func NegotiateCipher(serverCiphers, clientCiphers []string) (string, bool) {
	for _, s := range serverCiphers {
		for _, c := range clientCiphers {
			if strings.EqualFold(s, c) {
				return s, true
			}
		}
	}
	return "", false
}
