package client

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// login is what the client authenticates with on one connection.
type login struct {
	user, pass string
	aws        bool // AWS key-method-2 framing
}

// occ is the client's options string (OCC) of the key exchange.
func (l *link) occ() string {
	p := l.prof
	o := km2.OCC{TCP: p.Proto.IsTCP(), TunMTU: p.TunMTU, Cipher: "AES-256-GCM", KeyBits: 256}
	if len(l.cfg.Profile.Remotes) > 0 {
		o.TCP = l.conn.Reliable()
	}
	if p.Compression != profile.CompressionNone {
		o.CompLZO = true
	}
	return o.String()
}

// peerInfo is the IV_ block the client announces itself with.
func (l *link) peerInfo() string {
	p := l.prof
	pi := km2.PeerInfo{
		Version:    "2.6.14",
		Platform:   km2.PlatformName(runtime.GOOS),
		Proto:      km2.ClientIVProto,
		Ciphers:    p.NegotiableCiphers(),
		MTU:        p.TunMTU,
		GUIVersion: "cvpn_" + l.cfg.Version,
	}
	if l.cfg.NoEKM {
		pi.Proto &^= km2.IVProtoTLSKeyExport
	}
	if p.Auth.Federated {
		pi.SSO = []string{"openurl", "crtext"} // what AWS's own client sends
	} else {
		pi.SSO = ssoMethods
	}
	for _, e := range p.Setenv {
		if strings.HasPrefix(e.Name, "UV_") {
			pi.Extra = append(pi.Extra, e.Name+"="+e.Value)
		}
	}
	return pi.String()
}

// authError is a server refusal (AUTH_FAILED).
type authError struct {
	msg    ctrlmsg.AuthFailed
	server netip.AddrPort // the server that refused
}

func (e *authError) Error() string {
	if e.msg.Reason == "" {
		return "the server refused the credentials (AUTH_FAILED)"
	}
	return "the server refused the credentials: " + e.msg.Reason
}

// tempAuthError is an AUTH_FAILED,TEMP: the server cannot take the
// connection now; the client retries with the same credentials.
type tempAuthError struct{ ae *authError }

func (e *tempAuthError) Error() string {
	r := strings.TrimSpace(e.ae.msg.Reason)
	if r == "" {
		r = "no reason given"
	}
	return fmt.Sprintf("%s refused the connection for now (temporary failure, AUTH_FAILED,TEMP): %s", e.ae.server, r)
}

func (e *tempAuthError) Unwrap() error { return e.ae }
