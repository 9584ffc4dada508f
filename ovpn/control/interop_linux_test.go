package control

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

const openvpnBin = "/usr/sbin/openvpn"

func requireInteropEnv(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop test needs root (network namespace and TUN device)")
	}
	if _, err := os.Stat(openvpnBin); err != nil {
		t.Skipf("interop test needs Debian's OpenVPN at %s: %v", openvpnBin, err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("interop test needs iproute2 `ip`: %v", err)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("interop test needs /dev/net/tun: %v", err)
	}
}

// newNetns creates a network namespace with loopback up and deletes it in
// t.Cleanup.
func newNetns(t *testing.T) string {
	t.Helper()
	var rnd [4]byte
	rand.Read(rnd[:])
	name := "cvpn-b1-" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return name
}

// inNetns runs fn on an OS thread switched into the namespace. The thread
// is never handed back to the Go scheduler (it exits with the goroutine),
// so a failed switch back cannot leak into other goroutines. Sockets
// created by fn stay in the namespace.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(name)
		if err != nil {
			errc <- fmt.Errorf("netns %s: %w", name, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("entering netns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// staticKeyFile formats a 256-byte key as an OpenVPN static key file.
func staticKeyFile(key [256]byte) []byte {
	var b bytes.Buffer
	b.WriteString("-----BEGIN OpenVPN Static key V1-----\n")
	for i := 0; i < 256; i += 16 {
		b.WriteString(hex.EncodeToString(key[i:i+16]) + "\n")
	}
	b.WriteString("-----END OpenVPN Static key V1-----\n")
	return b.Bytes()
}

type interopCase struct {
	name    string
	proto   string // "udp" or "tcp"
	wrap    wrapMode
	auth    string // tls-auth digest
	tlsVer  uint16
	tlsName string
	loss    float64 // share of packets our side drops, each direction
}

func TestInteropOpenVPNServer(t *testing.T) {
	requireInteropEnv(t)
	cases := []interopCase{
		{"udp-none-tls13", "udp", "none", "", tls.VersionTLS13, "TLSv1.3", 0},
		{"udp-tlsauth-tls13", "udp", "tls-auth", "", tls.VersionTLS13, "TLSv1.3", 0},
		{"udp-tlsauth-sha512-tls12", "udp", "tls-auth", "SHA512", tls.VersionTLS12, "TLSv1.2", 0},
		{"udp-tlscrypt-tls13", "udp", "tls-crypt", "", tls.VersionTLS13, "TLSv1.3", 0},
		{"tcp-none-tls12", "tcp", "none", "", tls.VersionTLS12, "TLSv1.2", 0},
		{"tcp-tlsauth-tls13", "tcp", "tls-auth", "SHA256", tls.VersionTLS13, "TLSv1.3", 0},
		{"tcp-tlscrypt-tls13", "tcp", "tls-crypt", "", tls.VersionTLS13, "TLSv1.3", 0},
		// 20% loss each way (dropped by our side, seeded): exercises our
		// reset retries against the stateless 2.6 server and
		// retransmissions in both directions.
		{"udp-tlsauth-loss20", "udp", "tls-auth", "", tls.VersionTLS13, "TLSv1.3", 0.2},
	}
	pki := newTestPKI(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runInterop(t, pki, tc) })
	}
}

func runInterop(t *testing.T, pki *testPKI, tc interopCase) {
	dir := t.TempDir()
	ns := newNetns(t)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", pki.caDER)
	writePEM(t, filepath.Join(dir, "server.crt"), "CERTIFICATE", pki.server.Certificate[0])
	skey, err := x509.MarshalPKCS8PrivateKey(pki.server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "server.key"), "PRIVATE KEY", skey)
	var key [256]byte
	rand.Read(key[:])
	keyPath := filepath.Join(dir, "static.key")
	if err := os.WriteFile(keyPath, staticKeyFile(key), 0o600); err != nil {
		t.Fatal(err)
	}
	const port = "11940"
	proto := "udp"
	if tc.proto == "tcp" {
		proto = "tcp-server"
	}
	args := []string{"netns", "exec", ns, openvpnBin,
		"--server", "10.89.0.0", "255.255.255.0", "--topology", "subnet",
		"--dev", "tun", "--proto", proto, "--local", "127.0.0.1", "--port", port,
		"--ca", filepath.Join(dir, "ca.crt"), "--cert", filepath.Join(dir, "server.crt"),
		"--key", filepath.Join(dir, "server.key"), "--dh", "none",
		"--verb", "4", "--hand-window", "30"}
	var wc tlswrap.Wrapper = tlswrap.None{}
	switch tc.wrap {
	case "tls-auth":
		args = append(args, "--tls-auth", keyPath, "0")
		if tc.auth != "" {
			args = append(args, "--auth", tc.auth)
		}
		wc, err = tlswrap.NewTLSAuth(key, tlswrap.Direction1, tc.auth, nil)
	case "tls-crypt":
		args = append(args, "--tls-crypt", keyPath)
		wc, err = tlswrap.NewTLSCrypt(key, wire.RoleClient, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "openvpn.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", args...) // ip netns exec execs openvpn: same PID
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting openvpn: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Registered after newNetns, so it runs before the namespace is deleted.
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("openvpn pid %d did not exit after SIGKILL", cmd.Process.Pid)
		}
	})
	showLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("openvpn log:\n%s", showLog())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(showLog(), "Initialization Sequence Completed") {
		select {
		case <-exited:
			t.Fatalf("openvpn exited early")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("openvpn not ready after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	var conn net.Conn
	err = inNetns(ns, func() error {
		var err error
		conn, err = net.DialTimeout(tc.proto, "127.0.0.1:"+port, 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("dial in %s: %v", ns, err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rngMu sync.Mutex
	rng := mrand.New(mrand.NewSource(42))
	lose := func() bool {
		rngMu.Lock()
		defer rngMu.Unlock()
		return tc.loss > 0 && rng.Float64() < tc.loss
	}
	send := func(pkt []byte) error {
		if lose() {
			return nil
		}
		_, err := conn.Write(pkt)
		return err
	}
	if tc.proto == "tcp" {
		send = func(pkt []byte) error { return wire.WriteFrame(conn, pkt) }
	}
	ch, err := NewClient(ctx, Config{Wrapper: wc, Send: send, Peer: tc.proto + " 127.0.0.1:" + port, Logger: testLogger(t), TLSTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	go func() {
		var next func() ([]byte, error)
		if tc.proto == "tcp" {
			fr := wire.NewFrameReader(bufio.NewReader(conn), 0)
			next = fr.ReadFrame
		} else {
			buf := make([]byte, 65536)
			next = func() ([]byte, error) {
				n, err := conn.Read(buf)
				return buf[:n], err
			}
		}
		for {
			pkt, err := next()
			if err != nil {
				return
			}
			if op, _, err := wire.PeekHeader(pkt); err != nil || !op.IsControl() || lose() {
				continue
			}
			ch.HandleIncoming(pkt)
		}
	}()

	cfg := pki.clientConfig(tc.tlsVer)
	tconn := tls.Client(ch.Stream(0), cfg)
	if err := tconn.HandshakeContext(ctx); err != nil {
		t.Fatalf("TLS handshake with OpenVPN: %v", err)
	}
	st := tconn.ConnectionState()
	if st.Version != tc.tlsVer || len(st.VerifiedChains) == 0 {
		t.Fatalf("TLS state: version %x, %d verified chains", st.Version, len(st.VerifiedChains))
	}
	if rs, ok := ch.RemoteSessionID(); !ok || rs.IsZero() {
		t.Fatalf("remote session id unknown after handshake")
	}

	// Prove the stream works both ways after the handshake: send a key
	// method 2 message and read the server's key method 2 answer.
	if _, err := tconn.Write(keyMethod2(t)); err != nil {
		t.Fatalf("writing key method 2: %v", err)
	}
	tconn.SetReadDeadline(time.Now().Add(40 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(tconn, hdr); err != nil {
		t.Fatalf("reading server key method 2: %v", err)
	}
	if !bytes.Equal(hdr, []byte{0, 0, 0, 0, 2}) {
		t.Fatalf("server key method 2 starts %x, want 0000000002", hdr)
	}
	ch.Stream(0).HandshakeComplete()
	deadline = time.Now().Add(10 * time.Second)
	for {
		log := showLog()
		if strings.Contains(log, "Control Channel: "+tc.tlsName) && strings.Contains(log, "Peer Connection Initiated") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("openvpn log lacks \"Control Channel: %s\" and \"Peer Connection Initiated\"", tc.tlsName)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keyMethod2 builds a minimal client key-method-2 message (standard framing).
func keyMethod2(t *testing.T) []byte {
	t.Helper()
	str := func(b []byte, s string) []byte {
		if s == "" {
			return binary.BigEndian.AppendUint16(b, 0)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)+1))
		return append(append(b, s...), 0)
	}
	m := []byte{0, 0, 0, 0, 2}
	rnd := make([]byte, 48+32+32)
	rand.Read(rnd)
	m = append(m, rnd...)
	m = str(m, "V4,dev-type tun,link-mtu 1559,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client")
	m = str(m, "")
	m = str(m, "")
	m = str(m, "IV_VER=2.6.14\nIV_PLAT=linux\nIV_PROTO=30\nIV_CIPHERS=AES-256-GCM:AES-128-GCM\nIV_NCP=2\n")
	return m
}
