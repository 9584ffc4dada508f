package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// tlsCryptV2Keys has OpenVPN make a tls-crypt-v2 server key and a client
// key wrapped with it; it returns the server key's path and the client
// key's text.
func tlsCryptV2Keys(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	srv, cl := filepath.Join(dir, "tc2-server.key"), filepath.Join(dir, "tc2-client.key")
	for _, argv := range [][]string{
		{"--genkey", "tls-crypt-v2-server", srv},
		{"--tls-crypt-v2", srv, "--genkey", "tls-crypt-v2-client", cl},
	} {
		if out, err := exec.Command(openvpnpeer.Binary, argv...).CombinedOutput(); err != nil {
			t.Fatalf("openvpn %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	b, err := os.ReadFile(cl)
	if err != nil {
		t.Fatal(err)
	}
	return srv, string(b)
}

// TestInteropTLSCryptV2 connects with a profile whose only control channel
// key is a <tls-crypt-v2> client key to an OpenVPN server that has only the
// tls-crypt-v2 server key: it accepts nothing but HARD_RESET_CLIENT_V3 with
// a WKc it can unwrap. force-cookie makes the server stateless, so the
// client must resend WKc in P_CONTROL_WKC_V1 when asked.
func TestInteropTLSCryptV2(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	for _, tc := range []struct{ name, proto, mode string }{
		{"udp-force-cookie", "udp", " force-cookie"},
		{"udp-allow-noncookie", "udp", " allow-noncookie"},
		{"tcp", "tcp", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvKey, clientKey := tlsCryptV2Keys(t)
			r := startInterop(t, interopCase{
				server: openvpnpeer.ServerConfig{Proto: tc.proto, Wrap: openvpnpeer.WrapNone,
					Extra: []string{"tls-crypt-v2 " + srvKey + tc.mode}},
				profile:      openvpnpeer.ProfileOptions{ClientCert: "client1"},
				profileExtra: "<tls-crypt-v2>\n" + clientKey + "</tls-crypt-v2>\n",
				wantCipher:   "AES-256-GCM",
			})
			r.prove(t)
			r.stop(t)
		})
	}
}
