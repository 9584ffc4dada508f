package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/handshake"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Config describes the sessions to open.
type Config struct {
	Server netip.AddrPort
	// TLS is the client TLS configuration (CA pool, client certificate,
	// server name). DynamicRecordSizingDisabled is forced on.
	TLS *tls.Config
	// Wrapper returns a fresh client-side control wrapper (tls-auth or
	// tls-crypt); nil means none.
	Wrapper func() (tlswrap.Wrapper, error)
	// Username and Password, when set, are sent in key method 2.
	Username, Password string
	Logger             *slog.Logger
}

// Session is one open protocol session.
type Session struct {
	conn   transport.Conn
	ch     *control.Channel
	tc     *tls.Conn
	key    *handshake.Key
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// PushReply is the server's first PUSH_REPLY.
	PushReply string
}

// Dial opens one session over UDP and runs it up to the PUSH_REPLY.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	var d transport.Dialer
	conn, err := d.Dial(ctx, transport.UDP, cfg.Server)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{conn: conn, cancel: cancel}
	var w tlswrap.Wrapper = tlswrap.None{}
	if cfg.Wrapper != nil {
		if w, err = cfg.Wrapper(); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.ch, err = control.NewClient(sctx, control.Config{Role: wire.RoleClient, Wrapper: w, Send: conn.WritePacket, Logger: cfg.Logger,
		Peer: "udp " + cfg.Server.String()})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.readLoop()
	if err := s.handshake(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, transport.MaxPacket)
	for {
		n, err := s.conn.ReadPacket(buf)
		if err != nil {
			return
		}
		if n > 0 && wire.Opcode(buf[0]>>3).IsControl() {
			s.ch.HandleIncoming(buf[:n])
		}
	}
}

func (s *Session) handshake(ctx context.Context, cfg Config) error {
	tconf := cfg.TLS.Clone()
	tconf.DynamicRecordSizingDisabled = true
	k, err := handshake.Negotiate(ctx, s.ch.Stream(0), handshake.Config{Role: wire.RoleClient, TLS: tconf, IDs: s.ch,
		Peer: "udp " + cfg.Server.String(), Hello: handshake.Hello{Username: cfg.Username, Password: cfg.Password,
			Options:  km2.OCC{Cipher: "AES-256-GCM", KeyBits: 256}.String(),
			PeerInfo: km2.PeerInfo{Version: "2.6.14", Platform: "linux", Proto: loadgenIVProto, Ciphers: []string{"AES-256-GCM"}}.String()}})
	if err != nil {
		return err
	}
	// Only the TLS exporter keys are used (OpenData): the key-method-2
	// secrets are not needed.
	k.Zero()
	s.tc, s.key = k.TLS, k
	type res struct {
		reply string
		err   error
	}
	done := make(chan res, 1)
	go func() {
		if _, err := k.TLS.Write([]byte("PUSH_REQUEST\x00")); err != nil {
			done <- res{err: err}
			return
		}
		for {
			msg, err := k.Reader.ReadString(0)
			if err != nil {
				done <- res{err: err}
				return
			}
			msg = strings.TrimRight(msg, "\x00")
			switch {
			case strings.HasPrefix(msg, "PUSH_REPLY"):
				done <- res{reply: msg}
				return
			case strings.HasPrefix(msg, "AUTH_FAILED"):
				done <- res{err: errors.New("server refused: " + msg)}
				return
			}
		}
	}()
	select {
	case r := <-done:
		s.PushReply = r.reply
		return r.err
	case <-ctx.Done():
		k.TLS.Close()
		return ctx.Err()
	}
}

// Close ends the session (without notifying the server) and waits for its
// goroutines.
func (s *Session) Close() {
	s.cancel()
	if s.ch != nil {
		s.ch.Close()
	}
	s.conn.Close()
	s.wg.Wait()
}

// loadgenIVProto is what the load generator speaks: a cvpn client's
// IV_PROTO without the OpenVPN 2.7 features it does not implement (dynamic
// tls-crypt, epoch data keys, PUSH_UPDATE), like an OpenVPN 2.6 client.
const loadgenIVProto = km2.ClientIVProto &^ (km2.IVProtoDynTLSCrypt | km2.IVProtoDataEpoch | km2.IVProtoPushUpdate)
