package hostiletest

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/server/loadgen"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// rawClient is a client whose every step the test controls: it does the
// reset exchange (so the server creates a session) and then only what
// the test tells it to.
type rawClient struct {
	conn   transport.Conn
	ch     *control.Channel
	cancel context.CancelFunc
	done   chan struct{}
}

func dialRaw(t testing.TB, cfg loadgen.Config) *rawClient {
	t.Helper()
	var d transport.Dialer
	conn, err := d.Dial(context.Background(), transport.UDP, cfg.Server)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &rawClient{conn: conn, cancel: cancel, done: make(chan struct{})}
	var w tlswrap.Wrapper = tlswrap.None{}
	if cfg.Wrapper != nil {
		if w, err = cfg.Wrapper(); err != nil {
			t.Fatal(err)
		}
	}
	c.ch, err = control.NewClient(ctx, control.Config{Role: tlswrap.Client, Wrapper: w, Send: conn.WritePacket,
		HandWindow: 10 * time.Minute, Peer: "udp " + cfg.Server.String()})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, transport.MaxPacket)
		for {
			n, err := conn.ReadPacket(buf)
			if err != nil {
				return
			}
			if n > 0 && wire.Opcode(buf[0]>>3).IsControl() {
				c.ch.HandleIncoming(buf[:n])
			}
		}
	}()
	t.Cleanup(c.Close)
	return c
}

func (c *rawClient) Close() {
	c.cancel()
	c.ch.Close()
	c.conn.Close()
	<-c.done
}

// tlsClient runs a full TLS handshake on key 0.
func (c *rawClient) tlsClient(ctx context.Context, cfg loadgen.Config) (*tls.Conn, error) {
	tc := cfg.TLS.Clone()
	tc.DynamicRecordSizingDisabled = true
	conn := tls.Client(c.ch.Stream(0), tc)
	return conn, conn.HandshakeContext(ctx)
}
