package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// shutdownBound is how long `cvpn server run` may take to exit after
// SIGTERM. A connected client costs at most the 500 ms the server gives
// the RESTART message to be delivered.
const shutdownBound = 5 * time.Second

// TestServerRunExitsOnSIGTERM starts `cvpn server run` with and without
// [metrics] and [admin], over UDP and TCP, with no client, a connected cvpn
// client or a peer stalled in its handshake, sends SIGTERM and requires
// exit status 0 within shutdownBound, RESTART at the connected client,
// and the listen port, metrics port and admin socket free for a new
// server at once.
func TestServerRunExitsOnSIGTERM(t *testing.T) {
	nstest.RequireRoot(t)
	type row struct {
		transport      string
		metrics, admin bool
		client         string // none | connected | handshaking
	}
	var rows []row
	for _, tr := range []string{"udp", "tcp"} {
		for _, svc := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, cl := range []string{"none", "connected", "handshaking"} {
				rows = append(rows, row{tr, svc[0], svc[1], cl})
			}
		}
	}
	var report strings.Builder
	for _, r := range rows {
		name := fmt.Sprintf("%s-metrics=%v-admin=%v-client=%s", r.transport, r.metrics, r.admin, r.client)
		t.Run(name, func(t *testing.T) {
			ls := newLabServer(t, serverSpec{transport: r.transport, noMetrics: !r.metrics, noAdmin: !r.admin})
			var cl *cvpnClient
			switch r.client {
			case "connected":
				cl = startCVPN(t, ls, ls.profile(t, ""), "")
				cl.waitConnected(t)
			case "handshaking":
				stallHandshake(t, ls, transport.Proto(r.transport))
			}

			start := time.Now()
			if err := ls.proc.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ls.proc.Done():
			case <-time.After(shutdownBound):
				t.Fatalf("cvpn server run still running %s after SIGTERM", shutdownBound)
			}
			took := time.Since(start)
			fmt.Fprintf(&report, "%-48s %6.0f ms\n", name, took.Seconds()*1000)
			t.Logf("exited %s after SIGTERM (%s)", took.Round(time.Millisecond), ls.proc.ExitStatus())
			if err := ls.proc.Err(); err != nil {
				t.Errorf("cvpn server run after SIGTERM: %v, want exit status 0", err)
			}
			if !strings.Contains(ls.proc.Output(), "server stopped") {
				t.Errorf("no \"server stopped\" in the server's log")
			}
			if cl != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := cl.proc.WaitFor(ctx, "server shutting down")
				cancel()
				if err != nil {
					t.Errorf("the connected client was not told RESTART: %v", err)
				}
			}
			requireAddressesFree(t, ls, r.metrics, r.admin)

			// A new server starts on the same configuration at once.
			again := nstest.Start(t, ls.lab.Server, cvpnBinary(t), "server", "run", "--config", ls.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := again.WaitFor(ctx, "listening on"); err != nil {
				t.Fatalf("a new server on the same configuration did not start: %v", err)
			}
		})
	}
	t.Logf("shutdown time after SIGTERM per row:\n%s", report.String())
}

// requireAddressesFree binds the server's listen address, metrics address
// and admin socket path, as a new server would.
func requireAddressesFree(t *testing.T, ls *labServer, metrics, admin bool) {
	t.Helper()
	listen := netip.AddrPortFrom(nstest.ServerIP, 1194)
	err := nstest.InNS(ls.lab.Server, func() error {
		var errs []error
		if u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(listen)); err != nil {
			errs = append(errs, fmt.Errorf("udp %s still in use: %w", listen, err))
		} else {
			u.Close()
		}
		if l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(listen)); err != nil {
			errs = append(errs, fmt.Errorf("tcp %s still in use: %w", listen, err))
		} else {
			l.Close()
		}
		if metrics {
			if l, err := net.Listen("tcp", labMetricsListen); err != nil {
				errs = append(errs, fmt.Errorf("metrics address %s still in use: %w", labMetricsListen, err))
			} else {
				l.Close()
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Error(err)
	}
	if admin {
		sock := filepath.Join(ls.dir, labAdminSocket)
		if _, err := os.Lstat(sock); err == nil {
			t.Errorf("admin socket %s left behind", sock)
		}
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Errorf("admin socket path %s cannot be bound again: %v", sock, err)
		} else {
			l.Close() // removes the file
		}
	}
}

// stallHandshake plays a client that sends its hard reset, completes the
// reset exchange (so the server holds a session for it) and sends the
// first bytes of a TLS record, then stalls. It runs in the lab's client
// namespace until the test ends.
func stallHandshake(t *testing.T, ls *labServer, proto transport.Proto) {
	t.Helper()
	server := netip.AddrPortFrom(nstest.ServerIP, 1194)
	var conn transport.Conn
	err := nstest.InNS(ls.lab.Client, func() error {
		var d transport.Dialer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		conn, err = d.Dial(ctx, proto, server)
		return err
	})
	if err != nil {
		t.Fatalf("dial %s %s: %v", proto, server, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := control.NewClient(ctx, control.Config{Role: wire.RoleClient, Wrapper: tlswrap.None{}, Send: conn.WritePacket,
		HandWindow: time.Hour, Peer: string(proto) + " " + server.String()})
	if err != nil {
		cancel()
		conn.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, transport.MaxPacket)
		for {
			n, err := conn.ReadPacket(buf)
			if err != nil {
				return
			}
			if n > 0 && wire.Opcode(buf[0]>>3).IsControl() {
				ch.HandleIncoming(buf[:n])
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		ch.Close()
		conn.Close()
		<-done
	})
	st := ch.Stream(0)
	select {
	case <-st.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s %s: no answer to the hard reset", proto, server)
	}
	// A TLS handshake record header announcing 512 bytes that never come:
	// the server's TLS handshake waits for the rest.
	if _, err := st.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00}); err != nil {
		t.Fatal(err)
	}
	// The server has the session once it has the hard reset (TCP) or the
	// acknowledgement of its cookie (UDP); its debug log says so.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := ls.proc.WaitFor(wctx, "session created"); err != nil {
		t.Fatalf("the server did not create a session for the stalled client: %v", err)
	}
}
