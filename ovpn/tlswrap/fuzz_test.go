package tlswrap

import (
	"bytes"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

func FuzzTLSAuthUnwrap(f *testing.F) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	c, _ := NewTLSAuth(testKey(), Direction1, "", clk.now)
	p, _ := c.Wrap(nil, plainPacket())
	f.Add(p)
	f.Add(p[:20])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := NewTLSAuth(testKey(), Direction0, "", clk.now)
		in := append([]byte(nil), b...)
		out, err := s.Unwrap(in)
		if err != nil {
			return
		}
		// Whatever authenticates keeps its op and session id and loses
		// exactly the HMAC and replay fields.
		if len(out) != len(b)-28 || !bytes.Equal(out[:9], b[:9]) {
			t.Fatalf("unwrapped packet lost its header: %x from %x", out, b)
		}
	})
}

func FuzzTLSCryptUnwrap(f *testing.F) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	c, _ := NewTLSCrypt(testKey(), wire.RoleClient, clk.now)
	p, _ := c.Wrap(nil, plainPacket())
	f.Add(p)
	f.Add(p[:49])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := NewTLSCrypt(testKey(), wire.RoleServer, clk.now)
		in := append([]byte(nil), b...)
		out, err := s.Unwrap(in)
		if err != nil {
			return
		}
		if len(out) != len(b)-40 || !bytes.Equal(out[:9], b[:9]) {
			t.Fatalf("unwrapped %d bytes from %d", len(out), len(b))
		}
	})
}
