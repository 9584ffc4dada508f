package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/labpki"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// TestAuthorizationGroups: with rules 0.0.0.0/0 (all users, listed
// first), the LAN host for group eng and the server's LAN address for
// group ops, alice (eng) reaches the LAN host but not the server's LAN
// address, bob (ops) the reverse: the more specific rule decides and
// 0.0.0.0/0 only applies where nothing else matches.
func TestAuthorizationGroups(t *testing.T) {
	spec := serverSpec{users: usersTOML(t, false), split: true, rules: []config.RuleFile{
		{Destination: "0.0.0.0/0"},
		{Destination: nstest.LANHostIP.String() + "/32", AccessGroup: "eng"},
		{Destination: nstest.ServerLANIP.String() + "/32", AccessGroup: "ops"},
	}}
	ls := newLabServer(t, spec)
	prof := ls.profile(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, u := range []struct {
		user           string
		reach, blocked string
	}{
		{"alice", nstest.LANHostIP.String(), nstest.ServerLANIP.String()},
		{"bob", nstest.ServerLANIP.String(), nstest.LANHostIP.String()},
	} {
		cl := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: prof, Username: u.user, Password: "pw-" + u.user, Args: exitNotify})
		if err := nstest.Ping(ctx, ls.lab.Client, mustAddr(u.reach)); err != nil {
			t.Errorf("%s cannot reach %s: %v", u.user, u.reach, err)
		}
		if err := nstest.PingFails(ctx, ls.lab.Client, mustAddr(u.blocked)); err != nil {
			t.Errorf("%s reaches %s although no rule allows it: %v", u.user, u.blocked, err)
		}
		conns := listConnections(t, ls)
		if len(conns) != 1 || conns[0]["username"] != u.user || conns[0]["dropped-packets"].(float64) < 1 {
			t.Errorf("connections = %v, want one connection of %s with dropped packets", conns, u.user)
		}
		cl.Stop()
		waitNoConnections(t, ls)
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, "AuthorizationDroppedPackets") || strings.Contains(m, `AuthorizationDroppedPackets{endpoint="cvpn-endpoint-test"} 0`) {
		t.Errorf("metrics do not count dropped packets:\n%s", m)
	}
}

// exitNotify makes OpenVPN clients tell the server when they stop.
var exitNotify = []string{"--explicit-exit-notify", "1"}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// issueRevokedClient adds client2 to the lab PKI and writes a CRL
// revoking it to pki/crl-test.pem.
func issueRevokedClient(t *testing.T, dir string) {
	t.Helper()
	pkiDir := filepath.Join(dir, "pki")
	ca := loadCA(t, pkiDir, time.Now())
	c2, err := ca.IssueClient("client2")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"client2.crt": c2.CertPEM, "client2.key": c2.KeyPEM} {
		if err := os.WriteFile(filepath.Join(pkiDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	crl, err := ca.CRL([]pki.Revoked{{Serial: c2.Cert.SerialNumber}}, time.Now().Add(24*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkiDir, "crl-test.pem"), crl, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadCA(t *testing.T, pkiDir string, now time.Time) *pki.CA {
	t.Helper()
	cert, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(pkiDir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := labpki.LoadCA(cert, key, pki.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestCertificateRevocation: a revoked certificate is refused while a
// valid one connects; then an expired CRL refuses everyone.
func TestCertificateRevocation(t *testing.T) {
	ls := newLabServer(t, serverSpec{crl: "crl-test.pem", prepare: issueRevokedClient})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	revoked := openvpnpeer.StartClient(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, "client2")})
	if err := ls.proc.WaitFor(ctx, `client certificate \"client2\"`); err != nil {
		t.Fatalf("server did not refuse the revoked certificate: %v", err)
	}
	if !strings.Contains(ls.proc.Output(), "is revoked") {
		t.Errorf("refusal does not say the certificate is revoked")
	}
	revoked.Stop()

	good := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, ""), Args: exitNotify})
	if err := nstest.Ping(ctx, ls.lab.Client, serverTunnelIP); err != nil {
		t.Fatalf("valid certificate: ping through the tunnel: %v", err)
	}
	good.Stop()
	waitNoConnections(t, ls)

	// Replace the CRL by one whose nextUpdate has passed.
	past := time.Now().Add(-72 * time.Hour)
	ca := loadCA(t, filepath.Join(ls.dir, "pki"), past)
	crl, err := ca.CRL(nil, past.Add(24*time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFileAtomic(filepath.Join(ls.dir, "pki", "crl-test.pem"), crl, 0o644); err != nil {
		t.Fatal(err)
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, "CrlDaysToExpiry{") || !strings.Contains(m, "CrlDaysToExpiry{endpoint=\"cvpn-endpoint-test\"} -") {
		t.Errorf("CrlDaysToExpiry is not negative:\n%s", m)
	}
	refused := openvpnpeer.StartClient(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, "")})
	if err := ls.proc.WaitFor(ctx, "revocation list has expired"); err != nil {
		t.Fatalf("an expired CRL did not refuse the handshake: %v", err)
	}
	refused.Stop()
}

// TestConnectHandlerDenyAndConnectionLog: the handler's deny message
// reaches the client in AUTH_FAILED and the connection log records the
// attempt field by field.
func TestConnectHandlerDenyAndConnectionLog(t *testing.T) {
	var script string
	spec := serverSpec{prepare: func(t *testing.T, dir string) {
		script = filepath.Join(dir, "deny.sh")
		body := "#!/bin/sh\ncat > " + filepath.Join(dir, "request.json") + "\n" +
			`echo '{"allow":false,"error-msg-on-denied-connection":"Device not compliant: update the OS","posture-compliance-statuses":["os-outdated"],"schema-version":"v2"}'` + "\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}}
	spec.handlerCmd = []string{"./deny.sh"}
	ls := newLabServer(t, spec)
	cl := openvpnpeer.StartClient(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, "")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cl.WaitConnected(ctx)
	if !errors.Is(err, openvpnpeer.ErrAuthFailed) {
		t.Fatalf("client was not refused: %v", err)
	}
	if af := cl.AuthFailure(); !strings.Contains(af, "Device not compliant: update the OS") {
		t.Errorf("AUTH_FAILED line %q lacks the handler's message", af)
	}
	cl.Stop()

	var req map[string]any
	b, err := os.ReadFile(filepath.Join(ls.dir, "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("handler request: %v\n%s", err, b)
	}
	for k, want := range map[string]any{"endpoint-id": "cvpn-endpoint-test", "common-name": "client1", "platform": "linux",
		"public-ip": nstest.ClientIP.String(), "schema-version": "v2"} {
		if req[k] != want {
			t.Errorf("handler request %s = %v, want %v", k, req[k], want)
		}
	}
	if v, _ := req["client-openvpn-version"].(string); !strings.HasPrefix(v, "2.6") {
		t.Errorf("client-openvpn-version = %q", v)
	}
	entries := readConnLog(t, ls)
	if len(entries) == 0 {
		t.Fatal("connection log is empty")
	}
	e := entries[len(entries)-1]
	want := map[string]string{
		"connection-log-type": "connection-attempt", "connection-attempt-status": "failed", "connection-reset-status": "NA",
		"connection-attempt-failure-reason": "client-connect-failed", "connection-id": req["connection-id"].(string),
		"client-vpn-endpoint-id": "cvpn-endpoint-test", "transport-protocol": "udp", "client-ip": "NA", "common-name": "client1",
		"device-type": "linux", "device-ip": nstest.ClientIP.String(), "ingress-bytes": "0", "egress-bytes": "0",
		"ingress-packets": "0", "egress-packets": "0", "connection-end-time": "NA", "posture-compliance-statuses": "os-outdated",
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("connection log %s = %q, want %q", k, e[k], v)
		}
	}
	for _, k := range []string{"connection-start-time", "connection-last-update-time"} {
		if _, err := time.Parse("2006-01-02 15:04:05", e[k]); err != nil {
			t.Errorf("connection log %s = %q: %v", k, e[k], err)
		}
	}
	if len(e["port"]) != 5 {
		t.Errorf("port %q is not five digits", e["port"])
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, `ClientConnectHandlerDeniedConnections{endpoint="cvpn-endpoint-test"} 1`) {
		t.Errorf("metrics do not count the denial:\n%s", m)
	}
}

func readConnLog(t *testing.T, ls *labServer) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ls.dir, "connections.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var e map[string]string
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("connection log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// TestTerminateAndMetrics: metrics show our client's connection, and
// `cvpn server terminate` drops it.
func TestTerminateAndMetrics(t *testing.T) {
	ls := newLabServer(t, serverSpec{split: true})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, ls.lab.Client, nstest.LANHostIP); err != nil {
		t.Fatal(err)
	}
	m := fetchMetrics(t, ls)
	for _, want := range []string{`ActiveConnectionsCount{endpoint="cvpn-endpoint-test"} 1`, "# TYPE IngressBytes counter", "EgressPackets{"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	conns := listConnections(t, ls)
	if len(conns) != 1 {
		t.Fatalf("connections = %v", conns)
	}
	id := conns[0]["connection-id"].(string)
	out, err := exec.Command(cvpnBinary(t), "server", "terminate", "--config", ls.cfg, id).CombinedOutput()
	if err != nil {
		t.Fatalf("terminate: %v\n%s", err, out)
	}
	select {
	case <-cl.proc.Done():
	case <-ctx.Done():
		t.Fatalf("client still running after terminate")
	}
	waitNoConnections(t, ls)
	entries := readConnLog(t, ls)
	last := entries[len(entries)-1]
	if last["connection-id"] != id || last["connection-end-time"] == "NA" || last["ingress-packets"] == "0" || last["client-ip"] == "NA" {
		t.Errorf("last connection log entry does not record the end of %s: %v", id, last)
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, `ActiveConnectionsCount{endpoint="cvpn-endpoint-test"} 0`) {
		t.Errorf("ActiveConnectionsCount not back to 0")
	}
}

// listConnections runs `cvpn server connections --json`.
func listConnections(t *testing.T, ls *labServer) []map[string]any {
	t.Helper()
	out, err := exec.Command(cvpnBinary(t), "server", "connections", "--config", ls.cfg, "--json").Output()
	if err != nil {
		t.Fatalf("cvpn server connections: %v", err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("connections --json: %v\n%s", err, out)
	}
	return v
}

func waitNoConnections(t *testing.T, ls *labServer) {
	t.Helper()
	for i := 0; i < 100; i++ {
		active := 0
		for _, c := range listConnections(t, ls) {
			if c["status"] == "active" {
				active++
			}
		}
		if active == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("connections still listed after the client left: %v", listConnections(t, ls))
}

// fetchMetrics reads the Prometheus text from inside the server namespace.
func fetchMetrics(t *testing.T, ls *labServer) string {
	t.Helper()
	var body string
	err := nstest.InNS(ls.lab.Server, func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:9464", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
		b, err := io.ReadAll(bufio.NewReader(c))
		body = string(b)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return body
}
