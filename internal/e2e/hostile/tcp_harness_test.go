package hostile

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/loadgen"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// startTCPLab is startLab with transport = "tcp": the server listens on a
// loopback TCP port (2-byte big-endian length prefix per packet, as AWS
// Client VPN endpoints on TCP do) and writes to a counting device.
func startTCPLab(tb testing.TB, o labOpts) *lab {
	tb.Helper()
	o.tcp = true
	return startLab(tb, o)
}

// startTCPLabDevice is startTCPLab with the given device (nil: a counting
// device that never produces packets).
func startTCPLabDevice(tb testing.TB, o labOpts, dev server.Device) *lab {
	tb.Helper()
	o.tcp, o.device = true, dev
	return startLab(tb, o)
}

// dialRawTCP is dialRaw over TCP: it sends the hard reset (the server
// creates a session for it at once, there is no cookie on TCP) and then
// only what the test tells it to.
func dialRawTCP(t testing.TB, cfg loadgen.Config) *rawClient {
	t.Helper()
	c, err := openRaw(cfg, transport.TCP, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// openRawTCP is openRaw over TCP.
func openRawTCP(cfg loadgen.Config, onData func(pkt []byte)) (*rawClient, error) {
	return openRaw(cfg, transport.TCP, onData)
}

// tcpConnect is a real client over TCP: reset, TLS, key method 2,
// PUSH_REQUEST, up to the PUSH_REPLY; then it closes the connection (on
// TCP that ends the session). It returns how long the connect took.
func tcpConnect(ctx context.Context, cfg loadgen.Config) (time.Duration, error) {
	start := time.Now()
	c, err := tcpSession(ctx, cfg, nil)
	if err != nil {
		return 0, err
	}
	c.Close()
	return time.Since(start), nil
}

// tcpSession opens a session over TCP up to the PUSH_REPLY and leaves it
// open; the caller closes it. onData is as for openRawTCP.
func tcpSession(ctx context.Context, cfg loadgen.Config, onData func(pkt []byte)) (_ *rawClient, err error) {
	c, err := openRawTCP(cfg, onData)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	tc, err := c.tlsClient(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake over tcp: %w", err)
	}
	m := km2.Message{Sender: wire.RoleClient, Options: km2.OCC{TCP: true, Cipher: "AES-256-GCM", KeyBits: 256}.String(),
		PeerInfo: km2.PeerInfo{Version: "2.6.14", Platform: "linux", Proto: km2.ClientIVProto, Ciphers: []string{"AES-256-GCM"}}.String()}
	for _, b := range [][]byte{m.PreMaster[:], m.Random1[:], m.Random2[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		tc.SetDeadline(dl)
	}
	if _, err := m.WriteTo(tc); err != nil {
		return nil, err
	}
	if _, err := km2.Read(tc, wire.RoleServer); err != nil {
		return nil, fmt.Errorf("server key exchange: %w", err)
	}
	if _, err := tc.Write([]byte("PUSH_REQUEST\x00")); err != nil {
		return nil, err
	}
	br := bufio.NewReader(tc)
	for {
		msg, err := br.ReadString(0)
		if err != nil {
			return nil, fmt.Errorf("waiting for PUSH_REPLY: %w", err)
		}
		msg = strings.TrimSuffix(msg, "\x00")
		switch {
		case strings.HasPrefix(msg, "PUSH_REPLY"):
			tc.SetDeadline(time.Time{})
			return c, nil
		case strings.HasPrefix(msg, "AUTH_FAILED"):
			return nil, errors.New("server refused: " + msg)
		}
	}
}

// serverClosed waits (bounded by within) until the server has closed c:
// a read returns EOF or a reset. It drains whatever the server sends
// first (for example its hard reset reply) and reports how long it took,
// or an error when the connection is still open at the bound.
func serverClosed(c net.Conn, within time.Duration) (time.Duration, error) {
	start := time.Now()
	c.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, fmt.Errorf("connection from %s still open after %s", c.LocalAddr(), within)
	}
	return time.Since(start), nil // nil: EOF; otherwise a reset
}

// dialTCP dials n plain TCP connections to addr; they close with the test.
func dialTCP(t testing.TB, addr string, n int) []*net.TCPConn {
	t.Helper()
	out := make([]*net.TCPConn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		tc := c.(*net.TCPConn)
		t.Cleanup(func() { tc.Close() })
		out = append(out, tc)
	}
	return out
}
