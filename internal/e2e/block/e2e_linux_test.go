package block

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server/export"
)

// onLinkHost is a second address of the server namespace on the client's
// link: a host on the client's LAN that is not the VPN server.
var onLinkHost = netip.MustParseAddr("198.18.0.3")

// serverName is the remote's host name in the profile, answered by the
// lab's resolver on the outside host.
const serverName = "vpn.lab.test"

type setup struct {
	dns  *dnsServer
	lab  *nstest.Lab
	bin  string
	cfg  string
	prof string
	home string
	srv  *nstest.Proc
}

// newSetup starts a lab, our server (full tunnel, or split with the
// lan's prefix) and writes the exported profile with the server's name.
func newSetup(t *testing.T, split bool) *setup {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "ping", "ip")
	s := &setup{bin: nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn"), home: t.TempDir()}
	s.lab = nstest.New(t, nstest.Options{LAN: true, ClientDefaultRoute: true, ResolvConf: "nameserver " + nstest.LANHostIP.String() + "\n"})
	s.dns = startDNS(t, s.lab.LAN, netip.AddrPortFrom(nstest.LANHostIP, 53), serverName, nstest.ServerIP)
	dir := t.TempDir()
	if _, err := export.InitLab(dir, export.InitOptions{PublicAddress: nstest.ServerIP.String(), Listen: nstest.ServerIP.String() + ":1194"}); err != nil {
		t.Fatal(err)
	}
	s.cfg = filepath.Join(dir, "server.toml")
	if split {
		cfg, err := os.ReadFile(s.cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(cfg), "split_tunnel = false", "split_tunnel = true", 1)
		text = strings.Replace(text, "# [[routes]]\n# destination = \"172.31.0.0/16\"", "[[routes]]\ndestination = \""+nstest.LANPrefix.String()+"\"", 1)
		if !strings.Contains(text, "split_tunnel = true") || !strings.Contains(text, "\n[[routes]]\n") {
			t.Fatalf("cannot make the lab server split-tunnel:\n%s", text)
		}
		if err := os.WriteFile(s.cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nstest.MustRun(t, s.lab.Server, "ip", "addr", "add", onLinkHost.String()+"/24", "dev", nstest.ServerDev)
	s.srv = nstest.Start(t, s.lab.Server, s.bin, "server", "run", "--config", s.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.srv.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, s.srv.Output())
	}
	out, err := exec.Command(s.bin, "server", "export-client-config", "--config", s.cfg).Output()
	if err != nil {
		t.Fatalf("export-client-config: %v", err)
	}
	prof := strings.Replace(string(out), "remote "+nstest.ServerIP.String()+" ", "remote "+serverName+" ", 1)
	if prof == string(out) {
		t.Fatalf("no remote %s in the exported profile:\n%s", nstest.ServerIP, out)
	}
	s.prof = filepath.Join(s.home, "lab.ovpn")
	if err := os.WriteFile(s.prof, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *setup) start(t *testing.T, args ...string) *nstest.Proc {
	t.Helper()
	argv := append([]string{"env", "CVPN_HOME=" + s.home, s.bin, "connect", s.prof, "--json"}, args...)
	return nstest.Start(t, s.lab.Client, argv...)
}

func waitFor(t *testing.T, p *nstest.Proc, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, what); err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, p.Output())
	}
}

func stop(t *testing.T, p *nstest.Proc) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", p.Output())
	}
	if st := p.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("exit status after a requested disconnect = %q, want 0\n%s", st, p.Output())
	}
}

func ruleset(t *testing.T, ns string) string {
	t.Helper()
	r, err := nstest.NFTRuleset(ns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// foreignTable puts a table of someone else into ns, so that "the ruleset
// is unchanged" means something.
func foreignTable(t *testing.T, ns string) {
	t.Helper()
	fd, err := nstest.NetNSFd(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "someone-else"})
	pol := nftables.ChainPolicyAccept
	c.AddChain(&nftables.Chain{Name: "out", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &pol})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// dnsQuery sends one DNS question for name from an unmarked socket in the
// client namespace to the resolver at dst and waits (1 s) for the answer.
func dnsQuery(clientNS string, dst netip.AddrPort, name string) error {
	return nstest.InNS(clientNS, func() error {
		c, err := net.Dial("udp", dst.String())
		if err != nil {
			return err
		}
		defer c.Close()
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		_ = b.StartQuestions()
		_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		msg, err := b.Finish()
		if err != nil {
			return err
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1500))
		return err
	})
}

// tcpConnects reports whether a TCP connect from the client namespace to
// a listener in listenNS succeeds.
func tcpConnects(t *testing.T, clientNS, listenNS string, dst netip.AddrPort) error {
	t.Helper()
	var ln net.Listener
	if err := nstest.InNS(listenNS, func() (err error) {
		ln, err = net.Listen("tcp", dst.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return nstest.InNS(clientNS, func() error {
		c, err := net.DialTimeout("tcp", dst.String(), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func TestBlockWhenDown(t *testing.T) {
	s := newSetup(t, false)
	cl, lan := s.lab.Client, s.lab.LAN
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lanHost := netip.AddrPortFrom(nstest.LANHostIP, 8080)
	dns := netip.AddrPortFrom(nstest.LANHostIP, 53)

	// Without a block every destination is reachable outside a tunnel.
	for _, a := range []netip.Addr{onLinkHost, nstest.LANHostIP} {
		if err := nstest.Ping(ctx, cl, a); err != nil {
			t.Fatalf("before connecting: %v", err)
		}
	}
	if err := tcpConnects(t, cl, lan, lanHost); err != nil {
		t.Fatalf("before connecting, TCP to the outside host: %v", err)
	}
	if err := dnsQuery(cl, dns, "before.example"); err != nil || s.dns.count("before.example") != 1 {
		t.Fatalf("before connecting, DNS to the outside resolver: %v, asked %d times", err, s.dns.count("before.example"))
	}
	foreignTable(t, cl)
	before := ruleset(t, cl)

	p := s.start(t, "--block-when-down")
	waitFor(t, p, `"event":"blocked"`)
	waitFor(t, p, `"state":"connected"`)
	asked := s.dns.count(serverName) // cvpn's lookups so far, all made while blocked
	if asked == 0 {
		t.Errorf("cvpn connected to %s without asking the lab's resolver", serverName)
	}
	if err := nstest.Ping(ctx, cl, nstest.LANHostIP); err != nil {
		t.Fatalf("ping through the tunnel while blocked outside it: %v\n%s", err, p.Output())
	}

	// The server goes away: the client reconnects with the tunnel down.
	if err := s.srv.Stop(5 * time.Second); err != nil {
		t.Logf("stopping the server: %v", err)
	}
	waitFor(t, p, `"state":"reconnecting"`)
	time.Sleep(500 * time.Millisecond) // the tunnel's routes are gone by now
	if !strings.Contains(ruleset(t, cl), "name=cvpn") {
		t.Fatalf("no cvpn table while reconnecting:\n%s", ruleset(t, cl))
	}
	for _, a := range []netip.Addr{onLinkHost, nstest.LANHostIP} {
		if err := nstest.PingFails(ctx, cl, a); err != nil {
			t.Errorf("while down: %v", err)
		}
	}
	if err := tcpConnects(t, cl, lan, lanHost); err == nil {
		t.Error("while down, a TCP connect to the outside host succeeded")
	}
	if err := tcpConnects(t, cl, s.lab.Server, netip.AddrPortFrom(onLinkHost, 8080)); err == nil {
		t.Error("while down, a TCP connect to the host on the client's LAN succeeded")
	}
	if err := dnsQuery(cl, dns, "leak.example"); !errors.Is(err, syscall.EPERM) || s.dns.count("leak.example") != 0 {
		t.Errorf("while down, DNS to a resolver outside the VPN: %v, asked %d times (want EPERM, never)", err, s.dns.count("leak.example"))
	}
	// cvpn itself still resolves the server's name (marked socket) to
	// reconnect.
	deadline := time.Now().Add(30 * time.Second)
	for s.dns.count(serverName) == asked && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s.dns.count(serverName) == asked {
		t.Errorf("while down, cvpn's own lookup of %s never reached the resolver\n%s", serverName, p.Output())
	}
	// The VPN server stays reachable: cvpn's own reconnect attempts arrive.
	var srvSock net.PacketConn
	if err := nstest.InNS(s.lab.Server, func() (err error) {
		srvSock, err = net.ListenPacket("udp", netip.AddrPortFrom(nstest.ServerIP, 1194).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = srvSock.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := srvSock.ReadFrom(make([]byte, 2048)); err != nil {
		t.Errorf("while down, no reconnect attempt reached the VPN server: %v\n%s", err, p.Output())
	}
	srvSock.Close()

	stop(t, p)
	if !strings.Contains(p.Output(), `"event":"unblocked"`) {
		t.Errorf("no unblocked event at disconnect:\n%s", p.Output())
	}
	if after := ruleset(t, cl); after != before {
		t.Errorf("ruleset after disconnect differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := nstest.Ping(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("after disconnect: %v", err)
	}

	// kill -9: the block holds; the next start takes it over and removes it
	// at disconnect.
	p = s.start(t, "--block-when-down")
	waitFor(t, p, `"event":"blocked"`)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := nstest.PingFails(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("after kill -9 the block must hold: %v", err)
	}
	p = s.start(t, "--block-when-down")
	waitFor(t, p, `"event":"blocked"`)
	stop(t, p)
	if after := ruleset(t, cl); after != before {
		t.Errorf("ruleset after kill -9, restart and disconnect differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// kill -9 again, then cvpn unblock lifts it and says what it removed.
	p = s.start(t, "--block-when-down")
	waitFor(t, p, `"event":"blocked"`)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	out, err := nstest.Run(ctx, cl, "env", "CVPN_HOME="+s.home, s.bin, "unblock")
	if err != nil || !strings.Contains(out, "Removed the full block") || !strings.Contains(out, "nftables table inet cvpn") {
		t.Errorf("cvpn unblock: %v\n%s", err, out)
	}
	if after := ruleset(t, cl); after != before {
		t.Errorf("ruleset after cvpn unblock differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := nstest.Ping(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("after cvpn unblock: %v", err)
	}
}
