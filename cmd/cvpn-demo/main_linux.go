package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/samlidp"
)

func main() {
	bin := flag.String("cvpn", "build/cvpn", "the cvpn binary to demonstrate")
	transport := flag.String("transport", "udp", "udp or tcp")
	federated := flag.Bool("federated", false, "sign in through a SAML IdP with a real (headless) browser")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *transport, *federated); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo finished: everything worked and nothing was left behind.")
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

func run(ctx context.Context, bin, transport string, federated bool) error {
	if os.Geteuid() != 0 {
		return errors.New("the demo builds network namespaces and needs root (run: sudo make demo)")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	bin = abs
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", bin, err)
	}

	step("Building a lab: namespaces client, server and lan joined by veth pairs")
	lab, err := nstest.Create(ctx, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	if err != nil {
		return err
	}
	defer func() {
		lab.Close()
		fmt.Println("    lab namespaces deleted")
	}()
	fmt.Printf("    client %s (%s), server %s (%s), lan host %s in %s\n", lab.Client, nstest.ClientIP, lab.Server, nstest.ServerIP, nstest.LANHostIP, lab.LAN)
	before, err := nstest.Snapshot(ctx, lab.Client)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "cvpn-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	step("cvpn server init: a lab endpoint with its own PKI and an AWS-style client profile")
	listen := netip.AddrPortFrom(nstest.ServerIP, 1194).String()
	if out, err := exec.CommandContext(ctx, bin, "server", "init", dir, "--cn", "cvpn-demo", "--public-address", nstest.ServerIP.String(), "--listen", listen).CombinedOutput(); err != nil {
		return fmt.Errorf("server init: %v\n%s", err, out)
	} else {
		fmt.Print(indent(string(out)))
	}
	cfgPath := filepath.Join(dir, "server.toml")
	if err := editConfig(cfgPath, transport); err != nil {
		return err
	}
	var idp *samlidp.IdP
	if federated {
		step("Federated sign-in: a SAML IdP (test IdP with a login form) on loopback in the client namespace")
		if err := nstest.InNS(lab.Client, func() error {
			var err error
			idp, err = samlidp.Start(ctx, samlidp.Options{Addr: "127.0.0.1:0"})
			return err
		}); err != nil {
			return fmt.Errorf("test IdP: %w", err)
		}
		defer idp.Close()
		if err := idp.AddUser(samlidp.User{Name: "alice", Password: "correct horse", Email: "alice@example.com",
			FirstName: "Alice", LastName: "Liddell", Groups: []string{"eng"}}); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "idp-metadata.xml"), idp.MetadataXML, 0o644); err != nil {
			return err
		}
		if err := setKey(cfgPath, "saml_idp_metadata =", `saml_idp_metadata = "idp-metadata.xml"`); err != nil {
			return err
		}
		fmt.Printf("    IdP %s, user alice@example.com (group eng); the endpoint trusts its metadata\n", idp.URL)
	}
	profile := filepath.Join(dir, "client1.ovpn")
	if out, err := exec.CommandContext(ctx, bin, "server", "export-client-config", "--config", cfgPath, "--client", "client1", "--out", profile).CombinedOutput(); err != nil {
		return fmt.Errorf("export-client-config: %v\n%s", err, out)
	}
	fmt.Printf("    endpoint: %s %s, split tunnel to %s, route enforcement on, login banner set\n", transport, listen, nstest.LANPrefix)

	step("cvpn server run in the server namespace")
	srv, err := nstest.StartProc(lab.Server, bin, "server", "run", "--config", cfgPath)
	if err != nil {
		return err
	}
	defer srv.Stop(5 * time.Second)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := srv.WaitFor(wctx, "listening"); err != nil {
		return fmt.Errorf("server did not start: %v\n%s", err, srv.Output())
	}
	fmt.Print(indent(lastLines(srv.Output(), 2)))

	step("cvpn profile check, then cvpn connect in the client namespace")
	if out, err := exec.CommandContext(ctx, bin, "profile", "check", profile).CombinedOutput(); err != nil {
		return fmt.Errorf("profile check: %v\n%s", err, out)
	}
	fmt.Println("    profile check: usable, no diagnostics")
	home := filepath.Join(dir, "client-home")
	argv := []string{"env", "CVPN_HOME=" + home, bin, "connect", profile}
	if federated {
		argv = append(argv, "--no-browser")
	}
	cl, err := nstest.StartProc(lab.Client, argv...)
	if err != nil {
		return err
	}
	defer cl.Stop(5 * time.Second)
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	defer ccancel()
	start := time.Now()
	if federated {
		if err := browserSignIn(cctx, lab, cl); err != nil {
			return fmt.Errorf("browser sign-in: %w\n%s", err, cl.Output())
		}
	}
	if err := cl.WaitFor(cctx, "Connected to"); err != nil {
		return fmt.Errorf("client did not connect: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Output())
	}
	fmt.Print(indent(cl.Output()))
	fmt.Printf("    connected in %s\n", time.Since(start).Round(time.Millisecond))

	step("Proof: ping the lan host through the tunnel, and 20 MB each way with SHA-256 checked")
	if err := nstest.Ping(ctx, lab.Client, nstest.LANHostIP); err != nil {
		return fmt.Errorf("ping %s: %w", nstest.LANHostIP, err)
	}
	fmt.Printf("    ping %s: ok\n", nstest.LANHostIP)
	up, err := nstest.Transfer(ctx, lab.Client, lab.LAN, nstest.LANHostIP, 20<<20)
	if err != nil || !up.OK() {
		return fmt.Errorf("upload: %v %s", err, up)
	}
	fmt.Printf("    upload to the lan host: %s\n", up)
	tunIP, err := tunnelAddress(cl.Output())
	if err != nil {
		return err
	}
	down, err := nstest.Transfer(ctx, lab.LAN, lab.Client, tunIP, 20<<20)
	if err != nil || !down.OK() {
		return fmt.Errorf("download: %v %s", err, down)
	}
	fmt.Printf("    download from the lan host: %s\n", down)

	step("Route enforcement: a LAN route that would steal tunnel traffic is removed while connected")
	if _, err := nstest.Run(ctx, lab.Client, "ip", "route", "add", "198.19.0.128/25", "via", nstest.ServerIP.String()); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	if out, _ := nstest.Run(ctx, lab.Client, "ip", "route", "show", "198.19.0.128/25"); strings.TrimSpace(out) != "" {
		return fmt.Errorf("conflicting route still present: %s", out)
	}
	fmt.Println("    ip route add 198.19.0.128/25 via the LAN gateway -> removed by cvpn")

	step("The administrator's view: cvpn server connections")
	if out, err := nstest.Run(ctx, lab.Server, bin, "server", "connections", "--config", cfgPath); err != nil {
		return fmt.Errorf("server connections: %v\n%s", err, out)
	} else {
		fmt.Print(indent(out))
	}

	step("Disconnect (SIGTERM, like Ctrl-C)")
	if err := cl.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-cl.Done():
	case <-time.After(15 * time.Second):
		return errors.New("client did not exit")
	}
	fmt.Print(indent(lastLines(cl.Output(), 4)))
	if st := cl.ExitStatus(); st != "exit status 0" && st != "0" {
		return fmt.Errorf("client exit status %s", st)
	}
	// The client said goodbye (EXIT), so the server drops the session at once.
	gone := false
	for i := 0; i < 30 && !gone; i++ {
		out, err := nstest.Run(ctx, lab.Server, bin, "server", "connections", "--config", cfgPath, "--json")
		gone = err == nil && !strings.Contains(out, `"active"`)
		if !gone {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !gone {
		return errors.New("the server still lists the connection 3 s after the client disconnected")
	}
	fmt.Println("    the server dropped the session at once (the client said goodbye)")
	if out, _ := nstest.Run(ctx, lab.Client, "ip", "route", "show", "198.19.0.128/25"); strings.TrimSpace(out) == "" {
		return errors.New("the route removed by enforcement was not restored on disconnect")
	}
	fmt.Println("    the route removed by enforcement is back; deleting it by hand (it was the demo's own)")
	if _, err := nstest.Run(ctx, lab.Client, "ip", "route", "del", "198.19.0.128/25"); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := srv.Stop(5 * time.Second); err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}

	step("Connection log (AWS format, JSON lines)")
	if data, err := os.ReadFile(filepath.Join(dir, "connections.log")); err == nil {
		fmt.Print(indent(string(data)))
	}

	step("Checking the client namespace: links, addresses, routes and resolv.conf exactly as before")
	after, err := nstest.Snapshot(ctx, lab.Client)
	if err != nil {
		return err
	}
	if d := before.Diff(after); d != "" {
		return fmt.Errorf("the client namespace changed:\n%s", d)
	}
	fmt.Println("    identical")
	return nil
}

// browserSignIn reads the IdP address cvpn prints (--no-browser) and signs
// in with headless Chromium running in the client namespace, where the
// IdP's answer reaches cvpn's 127.0.0.1:35001 listener.
func browserSignIn(ctx context.Context, lab *nstest.Lab, cl *nstest.Proc) error {
	m, err := cl.WaitMatch(ctx, regexp.MustCompile(`Sign in with your browser: (\S+)`))
	if err != nil {
		return err
	}
	url := m[1]
	fmt.Printf("    cvpn asks for a browser sign-in at %s...\n", url[:min(len(url), 60)])
	var b *chromium.Browser
	if err := nstest.InNS(lab.Client, func() error {
		var err error
		b, err = chromium.Start(ctx, chromium.Options{})
		return err
	}); err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, url); err != nil {
		return err
	}
	if err := b.WaitFor(ctx, `document.querySelector('form#login input[name=user]')`); err != nil {
		return err
	}
	fmt.Println("    headless Chromium shows the IdP's login form; signing in as alice")
	if err := b.Eval(ctx, `(() => { const f = document.getElementById('login'); f.user.value = 'alice'; f.password.value = 'correct horse'; f.submit(); return true })()`, nil); err != nil {
		return err
	}
	if err := b.WaitFor(ctx, `document.body && document.body.innerText.includes('You can close this window')`); err != nil {
		return err
	}
	fmt.Println("    the IdP posted the assertion to 127.0.0.1:35001; the browser says the window can be closed")
	return nil
}

func setKey(path, prefix, line string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			l = line
		}
		out = append(out, l)
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600)
}

// editConfig turns the initialised lab config into the demo endpoint.
func editConfig(path, transport string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	repl := func(prefix, line string) {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, prefix) {
				l = line
			}
			out = append(out, l)
		}
		s = strings.Join(out, "\n")
	}
	repl("transport =", fmt.Sprintf("transport = %q", transport))
	repl("split_tunnel =", "split_tunnel = true")
	repl("client_route_enforcement =", "client_route_enforcement = true")
	repl("login_banner =", `login_banner = "Welcome to the cvpn demo lab. Authorised use only."`)
	repl("# [[routes]]", "[[routes]]")
	repl(`# destination = "172.31.0.0/16"`, fmt.Sprintf("destination = %q", nstest.LANPrefix))
	return os.WriteFile(path, []byte(s), 0o600)
}

func tunnelAddress(out string) (netip.Addr, error) {
	c := strings.Index(out, "Connected to ")
	i := strings.Index(out[max(c, 0):], ", address ")
	if c < 0 || i < 0 {
		return netip.Addr{}, fmt.Errorf("no tunnel address in:\n%s", out)
	}
	f := strings.FieldsFunc(out[c+i+len(", address "):], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	return netip.ParseAddr(f[0])
}

func indent(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		b.WriteString("    " + sc.Text() + "\n")
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
