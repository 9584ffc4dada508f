package openvpnpeer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// ClientConfig describes an OpenVPN client run from a profile.
type ClientConfig struct {
	NS      string  // namespace to run in (required)
	Version Version // V26 (default) or V27
	Profile string  // .ovpn text, e.g. from Server.ClientProfile (required)

	// Username and Password, when Username is set, are written to a 0600
	// file passed with --auth-user-pass.
	Username, Password string
	// ChallengeResponse makes the client send SCRV1(Password,
	// ChallengeResponse) as the password, the way a static-challenge client
	// does; any static-challenge line is dropped from the profile.
	ChallengeResponse string

	// Args are extra command-line options, e.g. "--reneg-sec", "10".
	Args []string
}

// Client is a running OpenVPN client.
type Client struct {
	Config ClientConfig
	Dir    string
	Proc   *nstest.Proc
	start  time.Time

	// Set by WaitConnected:
	ConnectTime time.Duration // from process start to "Initialization Sequence Completed"
	TunnelIP    netip.Addr    // assigned IPv4 address
	TunnelIP6   netip.Addr    // assigned IPv6 address, if any
	Cipher      string        // negotiated data channel cipher
	Device      string        // tun device name
}

// ErrAuthFailed is returned by WaitConnected when the server sent
// AUTH_FAILED.
var ErrAuthFailed = errors.New("openvpnpeer: server sent AUTH_FAILED")

// LaunchClient writes the profile (and credentials) into dir and starts
// openvpn in cfg.NS without waiting; call WaitConnected. The caller must
// call Stop.
func LaunchClient(cfg ClientConfig, dir string) (*Client, error) {
	if cfg.NS == "" || cfg.Profile == "" {
		return nil, errors.New("openvpnpeer: ClientConfig needs NS and Profile")
	}
	profile := cfg.Profile
	if cfg.ChallengeResponse != "" {
		var kept []string
		for _, l := range strings.Split(profile, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "static-challenge") {
				kept = append(kept, l)
			}
		}
		profile = strings.Join(kept, "\n")
	}
	run := cfg.Version.runDir(dir)
	if err := pki.WriteFileAtomic(filepath.Join(dir, "client.ovpn"), []byte(profile), 0o600); err != nil {
		return nil, err
	}
	args := []string{"--config", filepath.Join(run, "client.ovpn")}
	if cfg.Username != "" {
		pw := cfg.Password
		if cfg.ChallengeResponse != "" {
			pw = SCRV1(cfg.Password, cfg.ChallengeResponse)
		}
		if strings.ContainsAny(cfg.Username+pw, "\r\n") {
			return nil, errors.New("openvpnpeer: line break in client credentials")
		}
		if err := pki.WriteFileAtomic(filepath.Join(dir, "credentials"), []byte(cfg.Username+"\n"+pw+"\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--auth-user-pass", filepath.Join(run, "credentials"))
	}
	if cfg.Version == V27 {
		// OpenVPN 2.7 runs its dns-updown script by default; in the chroot
		// it would rewrite the shared chroot's resolv.conf. The dns options
		// received stay visible in the log.
		args = append(args, "--dns-updown", "disable")
	}
	args = append(args, cfg.Args...)
	c := &Client{Config: cfg, Dir: dir, start: time.Now()}
	p, err := nstest.StartProc(cfg.NS, cfg.Version.argv(dir, args...)...)
	if err != nil {
		return nil, err
	}
	c.Proc = p
	return c, nil
}

// StartClient is LaunchClient for tests (t.TempDir, stop in t.Cleanup,
// log attached on failure). It does not wait; see Connect.
func StartClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, Binary)
	requireVersion(t, cfg.Version)
	c, err := LaunchClient(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("openvpnpeer: stop client: %v", err)
		}
		if t.Failed() {
			t.Logf("openvpn %s client log (pid %d, %s):\n%s", cfg.Version, c.Proc.PID(), c.Proc.ExitStatus(), c.Log())
		}
	})
	return c
}

// Connect starts a client and waits up to 20 s until it is connected,
// failing the test otherwise.
func Connect(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	c := StartClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	reAuthFailed = regexp.MustCompile(`AUTH_FAILED[^\n]*`)
	reReady      = regexp.MustCompile(readyLine + `|AUTH_FAILED`)
	reAddr4      = regexp.MustCompile(`net_addr_v4_add: ([0-9.]+)/\d+ dev (\S+)`)
	reAddr6      = regexp.MustCompile(`net_addr_v6_add: ([0-9a-fA-F:]+)/\d+ dev \S+`)
	reCipher     = regexp.MustCompile(`(?:Data Channel|Outgoing Data Channel): [Cc]ipher '([^']+)'`)
)

// WaitConnected waits until the client reports "Initialization Sequence
// Completed" and records ConnectTime, TunnelIP(6), Device and Cipher. It
// returns ErrAuthFailed (wrapped, with the log) when authentication fails.
func (c *Client) WaitConnected(ctx context.Context) error {
	m, err := c.Proc.WaitMatch(ctx, reReady)
	if err != nil {
		return fmt.Errorf("openvpnpeer: client in %s: %w", c.Config.NS, err)
	}
	if m[0] == "AUTH_FAILED" {
		return fmt.Errorf("%w (client in %s); log:\n%s", ErrAuthFailed, c.Config.NS, c.Log())
	}
	c.ConnectTime = time.Since(c.start)
	// OpenVPN 2.6 prints the data channel cipher just after the ready line.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if m, err := c.Proc.WaitMatch(cctx, reCipher); err == nil {
		c.Cipher = m[1]
	} else {
		return fmt.Errorf("openvpnpeer: client in %s: connected but no data channel cipher logged: %w", c.Config.NS, err)
	}
	out := c.Log()
	if m := reAddr4.FindStringSubmatch(out); m != nil {
		c.TunnelIP, _ = netip.ParseAddr(m[1])
		c.Device = m[2]
	}
	if m := reAddr6.FindStringSubmatch(out); m != nil {
		c.TunnelIP6, _ = netip.ParseAddr(m[1])
	}
	return nil
}

// AuthFailure returns the AUTH_FAILED line of the log, or "".
func (c *Client) AuthFailure() string { return reAuthFailed.FindString(c.Log()) }

// Log returns the client's output so far.
func (c *Client) Log() string { return c.Proc.Output() }

// Stop terminates the client (SIGTERM, so it removes its routes and
// device; SIGKILL after 5 s). Idempotent.
func (c *Client) Stop() error { return c.Proc.Stop(5 * time.Second) }
