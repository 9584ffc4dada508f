package hostile

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/loadgen"
	"github.com/cvpn/cvpn/ovpn/control"
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
	c, err := openRaw(cfg, transport.UDP, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// openRaw connects over proto and sends the hard reset. onData, when set,
// is called from the read loop for every data packet the server sends (a
// blocking onData stops the client reading its socket).
func openRaw(cfg loadgen.Config, proto transport.Proto, onData func(pkt []byte)) (*rawClient, error) {
	var d transport.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn, err := d.Dial(ctx, proto, cfg.Server)
	cancel()
	if err != nil {
		return nil, err
	}
	var w tlswrap.Wrapper = tlswrap.None{}
	if cfg.Wrapper != nil {
		if w, err = cfg.Wrapper(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	cctx, ccancel := context.WithCancel(context.Background())
	c := &rawClient{conn: conn, cancel: ccancel, done: make(chan struct{})}
	c.ch, err = control.NewClient(cctx, control.Config{Role: wire.RoleClient, Wrapper: w, Send: conn.WritePacket,
		HandWindow: 10 * time.Minute, Peer: string(proto) + " " + cfg.Server.String()})
	if err != nil {
		ccancel()
		conn.Close()
		return nil, err
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, transport.MaxPacket)
		for {
			n, err := conn.ReadPacket(buf)
			if err != nil {
				return
			}
			if n == 0 {
				continue
			}
			switch op := wire.Opcode(buf[0] >> 3); {
			case op.IsControl():
				c.ch.HandleIncoming(buf[:n])
			case op.IsData() && onData != nil:
				onData(buf[:n])
			}
		}
	}()
	return c, nil
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
