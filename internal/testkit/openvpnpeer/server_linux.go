package openvpnpeer

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// readyLine is what OpenVPN 2.6 prints, on servers and clients, once the
// tunnel device is configured and it is ready.
const readyLine = "Initialization Sequence Completed"

// Server is a running OpenVPN server.
type Server struct {
	Config ServerConfig // with defaults and PKI filled in
	Dir    string
	Proc   *nstest.Proc
	// ManagementSocket is the unix socket path when Config.Management.
	ManagementSocket string
	// StartupTime is how long openvpn took to report readiness.
	StartupTime time.Duration
}

// LaunchServer writes the server's files into dir, starts openvpn in
// cfg.NS and waits (bounded by ctx) until it is ready. On error the process
// is stopped. The caller must call Stop.
func LaunchServer(ctx context.Context, cfg ServerConfig, dir string) (*Server, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.PKI == nil {
		p, err := pki.Generate(pki.Spec{ServerName: "server", Clients: []string{"client1", "client2"}})
		if err != nil {
			return nil, err
		}
		cfg.PKI = p
	}
	if err := cfg.PKI.WriteDir(filepath.Join(dir, "pki")); err != nil {
		return nil, err
	}
	// The paths in the configuration are as openvpn sees them: the 2.7
	// chroot sees dir at RunDir27.
	run := cfg.Version.runDir(dir)
	pkiDir := filepath.Join(run, "pki")
	f := serverFiles{
		CA:       filepath.Join(pkiDir, pki.FileCACert),
		Cert:     filepath.Join(pkiDir, pki.FileServer),
		Key:      filepath.Join(pkiDir, pki.FileServerKey),
		TLSAuth:  filepath.Join(pkiDir, pki.FileTLSAuth),
		TLSCrypt: filepath.Join(pkiDir, pki.FileTLSCrypt),
	}
	if len(cfg.CRL) > 0 {
		f.CRL = filepath.Join(run, "crl.pem")
		if err := pki.WriteFileAtomic(filepath.Join(dir, "crl.pem"), cfg.CRL, 0o644); err != nil {
			return nil, err
		}
	}
	if len(cfg.Users) > 0 {
		f.Verify = filepath.Join(run, "verify.sh")
		script := verifyScript(cfg.Users, filepath.Join(run, "auth.log"))
		if err := pki.WriteFileAtomic(filepath.Join(dir, "verify.sh"), []byte(script), 0o700); err != nil {
			return nil, err
		}
		cr := crResponseScript(cfg.Users, filepath.Join(run, "auth.log"))
		if err := pki.WriteFileAtomic(filepath.Join(dir, "crresponse.sh"), []byte(cr), 0o700); err != nil {
			return nil, err
		}
	}
	s := &Server{Dir: dir}
	if cfg.Management {
		f.Management = filepath.Join(run, "management.sock")
		s.ManagementSocket = filepath.Join(dir, "management.sock")
	}
	s.Config = cfg
	if err := pki.WriteFileAtomic(filepath.Join(dir, "server.conf"), []byte(cfg.render(f)), 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := nstest.StartProc(cfg.NS, cfg.Version.argv(dir, "--config", filepath.Join(run, "server.conf"))...)
	if err != nil {
		return nil, err
	}
	s.Proc = p
	if err := p.WaitFor(ctx, readyLine); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("openvpnpeer: server in %s did not start: %w", cfg.NS, err)
	}
	s.StartupTime = time.Since(start)
	return s, nil
}

// StartServer is LaunchServer for tests: files go to t.TempDir, the server
// is stopped in t.Cleanup, and its log and config are attached when the
// test fails. Missing root or openvpn skips (fails under CI=true).
func StartServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, Binary)
	requireVersion(t, cfg.Version)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := LaunchServer(ctx, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("openvpnpeer: stop server: %v", err)
		}
		if t.Failed() {
			conf, _ := os.ReadFile(filepath.Join(s.Dir, "server.conf"))
			t.Logf("openvpn %s server config:\n%s\nopenvpn server log (pid %d, %s):\n%s", cfg.Version, conf, s.Proc.PID(), s.Proc.ExitStatus(), s.Log())
		}
	})
	return s
}

// DecidePending ends the deferred (web sign-in) authentication of user
// name: ok accepts it, otherwise the server refuses the client.
func (s *Server) DecidePending(name string, ok bool) error {
	b, err := os.ReadFile(filepath.Join(s.Dir, "pending-"+name))
	if err != nil {
		return fmt.Errorf("openvpnpeer: no pending authentication of %s: %w", name, err)
	}
	p := string(b)
	if run := s.Config.Version.runDir(s.Dir); run != s.Dir {
		rest, found := strings.CutPrefix(p, run+"/")
		if !found {
			return fmt.Errorf("openvpnpeer: control file %s is outside the run directory %s (tmp-dir)", p, run)
		}
		p = filepath.Join(s.Dir, rest)
	}
	v := "0"
	if ok {
		v = "1"
	}
	return os.WriteFile(p, []byte(v), 0o600)
}

// Stop terminates the server (SIGTERM, SIGKILL after 5 s). Idempotent.
func (s *Server) Stop() error { return s.Proc.Stop(5 * time.Second) }

// Log returns the server's output so far.
func (s *Server) Log() string { return s.Proc.Output() }

// AuthLog returns the verify script's records, "ok NAME" or "fail NAME",
// oldest first (nil when no user has been checked).
func (s *Server) AuthLog() []string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "auth.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TunnelIP is the server's own address in the IPv4 pool (the first host).
func (s *Server) TunnelIP() netip.Addr { return s.Config.Network.Masked().Addr().Next() }

// TunnelIP6 is the server's own IPv6 tunnel address (the first host).
func (s *Server) TunnelIP6() netip.Addr { return s.Config.Network6.Masked().Addr().Next() }

// ClientProfile renders a .ovpn profile for this server; see
// ServerConfig.ClientProfile.
func (s *Server) ClientProfile(o ProfileOptions) (string, error) {
	return s.Config.ClientProfile(o)
}
