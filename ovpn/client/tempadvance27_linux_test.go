package client_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestOpenVPN27TempAdvance: an OpenVPN 2.7 server (TCP, listening on two
// addresses of its namespace) refuses with AUTH_FAILED,TEMP[backoff
// 1,advance X]. The profile lists three remotes: R0 (a closed port: the
// attempt fails at once), R1 and R2 (the server's two addresses). The
// first attempt reaches R1, which refuses; the retry goes to R1 again
// with "advance no", to R2 with "advance remote" and "advance addr" (R1
// has one address), and starts again at R0 without the keyword.
func TestOpenVPN27TempAdvance(t *testing.T) {
	nstest.RequireRoot(t)
	openvpnpeer.Require27(t)
	const r0, r1, r2 = "198.18.0.2:1195", "198.18.0.2:1194", "198.18.0.4:1194"
	for _, tc := range []struct{ name, hint, want string }{
		{"no", "TEMP[backoff 1,advance no]: busy", r1},
		{"remote", "TEMP[backoff 1,advance remote]: busy", r2},
		{"addr", "TEMP[backoff 1,advance addr]: busy", r2},
		{"none", "TEMP[backoff 1]: busy", r0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := cvpnBinary(t)
			lab := nstest.New(t, nstest.Options{})
			nstest.MustRun(t, lab.Server, "ip", "addr", "add", "198.18.0.4/24", "dev", nstest.ServerDev)
			cfg := openvpnpeer.ServerConfig{NS: lab.Server, Proto: "tcp", Version: openvpnpeer.V27, NoClientCert: true,
				Users: []openvpnpeer.User{{Name: "bob", Password: "pw", FailReason: tc.hint}}}
			srv := openvpnpeer.StartServer(t, cfg)
			prof, err := srv.ClientProfile(openvpnpeer.ProfileOptions{Remote: "198.18.0.2"})
			if err != nil {
				t.Fatal(err)
			}
			remotes := "remote 198.18.0.2 1195\nremote 198.18.0.2 1194\nremote 198.18.0.4 1194\n"
			if !strings.Contains(prof, "remote 198.18.0.2 1194\n") {
				t.Fatalf("profile without the expected remote line:\n%s", prof)
			}
			prof = strings.Replace(prof, "remote 198.18.0.2 1194\n", remotes, 1)
			home := t.TempDir()
			pf, cf := filepath.Join(home, "lab.ovpn"), filepath.Join(home, "creds")
			if err := os.WriteFile(pf, []byte(prof), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cf, []byte("bob\npw\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cl := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+home, bin, "connect", pf, "--json", "--auth-user-pass", cf)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			connecting := regexp.MustCompile(`"state":"connecting","server":"([0-9.:]+)"`)
			var seq []string
			for len(seq) < 3 {
				select {
				case <-ctx.Done():
					t.Fatalf("fewer than 3 attempts: %q\n%s\nserver:\n%s", seq, cl.Output(), srv.Log())
				case <-time.After(100 * time.Millisecond):
				}
				seq = nil
				for _, m := range connecting.FindAllStringSubmatch(cl.Output(), -1) {
					seq = append(seq, m[1])
				}
			}
			if seq[0] != r0 || seq[1] != r1 {
				t.Fatalf("first attempt went to %q, want %s then %s", seq[:2], r0, r1)
			}
			if seq[2] != tc.want {
				t.Errorf("after %q the retry went to %s, want %s (attempts %q)", tc.hint, seq[2], tc.want, seq)
			}
			if !strings.Contains(cl.Output(), "refused the connection for now") {
				t.Errorf("no temporary failure event:\n%s", cl.Output())
			}
		})
	}
}
