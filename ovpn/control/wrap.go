package control

import (
	"github.com/cvpn/cvpn/ovpn/reliable"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// SetRenegWrapper sets the wrapper of every later renegotiation (key_id >
// 0): OpenVPN 2.7's dynamic tls-crypt key, made once the first TLS session
// is up.
func (c *Channel) SetRenegWrapper(w tlswrap.Wrapper) {
	c.mu.Lock()
	c.reneg = w
	c.mu.Unlock()
}

// Wrapper returns the wrapper of the first key (key_id 0).
func (c *Channel) Wrapper() tlswrap.Wrapper { return c.wrap }

func (c *Channel) wrapperLocked(keyID uint8) tlswrap.Wrapper {
	if keyID != 0 && c.reneg != nil {
		return c.reneg
	}
	return c.wrap
}

// resetPayloadLocked handles the payload of the peer's reset: a
// tls-crypt-v2 server's early-negotiation flags may ask for WKc again, in
// an empty P_CONTROL_WKC_V1 that carries the ACK of its reset (the packet
// after the reset, packet id 1). Other payloads are ignored.
func (c *Channel) resetPayloadLocked(s *Stream, p reliable.Packet) {
	if len(p.Payload) == 0 {
		return
	}
	if _, ok := c.wrap.(*tlswrap.TLSCryptV2Client); ok && p.Opcode == wire.OpHardResetServerV2 && s.keyID == 0 {
		flags, err := tlswrap.ServerResetFlags(p.Payload)
		if err != nil {
			c.log.Info("server reset payload ignored", "err", err)
			return
		}
		if flags&tlswrap.FlagResendWKC != 0 {
			c.log.Debug("server asks for the tls-crypt-v2 client key again")
			s.rel.Send(wire.OpControlWKCV1, nil)
		}
		return
	}
	c.log.Debug("reset packet payload ignored", "op", p.Opcode.String(), "bytes", len(p.Payload))
}
