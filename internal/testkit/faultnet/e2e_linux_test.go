package faultnet_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/faultnet"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")
}

// proxy is what the tests need from a UDP or TCP faultnet proxy.
type proxy interface {
	Addr() netip.AddrPort
	Stats() faultnet.Stats
	SetBlackhole(bool)
	Close() error
}

// proxyPort is where the impairment proxy listens in the server namespace.
const proxyPort = 11940

// faultLab is a lab whose client reaches Debian's OpenVPN server through
// a faultnet proxy running in the server namespace.
type faultLab struct {
	lab     *nstest.Lab
	srv     *openvpnpeer.Server
	proxy   proxy
	home    string
	profile string
	before  nstest.NSState
}

func newFaultLab(t *testing.T, cfg openvpnpeer.ServerConfig, up, down faultnet.Impairment) *faultLab {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	cvpnBinary(t) // build before the lab exists
	lab := nstest.New(t, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	f := &faultLab{lab: lab, home: t.TempDir()}
	f.before = nstest.MustSnapshot(t, lab.Client)
	cfg.NS, cfg.Listen = lab.Server, nstest.ServerIP
	if len(cfg.PushRoutes) == 0 {
		cfg.PushRoutes = []netip.Prefix{nstest.LANPrefix}
	}
	f.srv = openvpnpeer.StartServer(t, cfg)
	f.proxy = startProxy(t, lab.Server, f.srv.Config.Proto, f.srv.Config.Port, up, down)
	pcfg := f.srv.Config
	pcfg.Port = proxyPort
	prof, err := pcfg.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	if err != nil {
		t.Fatal(err)
	}
	f.profile = filepath.Join(f.home, "lab.ovpn")
	if err := os.WriteFile(f.profile, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// startProxy runs a proxy from ServerIP:proxyPort to ServerIP:port inside ns.
func startProxy(t *testing.T, ns, proto string, port int, up, down faultnet.Impairment) proxy {
	t.Helper()
	cfg := faultnet.Config{
		Listen: netip.AddrPortFrom(nstest.ServerIP, proxyPort),
		Target: netip.AddrPortFrom(nstest.ServerIP, uint16(port)),
		Up:     up, Down: down, Seed: 2026,
		Dial: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = nstest.InNS(ns, func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}
	var p proxy
	err := nstest.InNS(ns, func() error {
		var err error
		if proto == "tcp" {
			p, err = faultnet.ListenTCP(context.Background(), cfg)
		} else {
			p, err = faultnet.ListenUDP(context.Background(), cfg)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// connect starts `cvpn connect --json` in the client namespace.
func (f *faultLab) connect(t *testing.T) *nstest.Proc {
	t.Helper()
	return nstest.Start(t, f.lab.Client, "env", "CVPN_HOME="+f.home, cvpnBinary(t), "connect", f.profile, "--json")
}

// waitEvents waits until the output holds n copies of substr.
func waitEvents(ctx context.Context, t *testing.T, p *nstest.Proc, substr string, n int) {
	t.Helper()
	for strings.Count(p.Output(), substr) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d x %s: %v\ncvpn output:\n%s", n, substr, ctx.Err(), p.Output())
		case <-p.Done():
			t.Fatalf("cvpn exited (%s) before %d x %s:\n%s", p.ExitStatus(), n, substr, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends cvpn with SIGTERM and checks the namespace is as before.
func (f *faultLab) stop(t *testing.T, p *nstest.Proc) {
	t.Helper()
	if err := p.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event after SIGTERM:\n%s", p.Output())
	}
	nstest.AssertUnchanged(t, f.before)
}
