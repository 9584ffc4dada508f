package bench

import (
	"bufio"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"
)

// wgKey is a WireGuard (X25519) key pair.
type wgKey struct {
	priv, pub []byte
}

// newWGKey generates an X25519 key pair with crypto/ecdh. WireGuard clamps
// the scalar itself, as crypto/ecdh does, so both sides derive the same
// public key from these bytes.
func newWGKey() (wgKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return wgKey{}, fmt.Errorf("generate X25519 key: %w", err)
	}
	return wgKey{priv: k.Bytes(), pub: k.PublicKey().Bytes()}, nil
}

// wgKeyFromPrivate derives the pair from a 32-byte private key.
func wgKeyFromPrivate(priv []byte) (wgKey, error) {
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return wgKey{}, fmt.Errorf("X25519 private key: %w", err)
	}
	return wgKey{priv: k.Bytes(), pub: k.PublicKey().Bytes()}, nil
}

// wgPeer is one peer of a wgConfig.
type wgPeer struct {
	pub       []byte
	endpoint  string // host:port, "" for none
	allowedIP string // CIDR
	keepalive int    // seconds, 0 for none
}

// wgConfig is what the benchmark sets on a wireguard-go interface.
type wgConfig struct {
	priv       []byte
	listenPort int // 0 lets wireguard-go choose
	peers      []wgPeer
}

// uapiSet renders c as a UAPI "set=1" request: key=value lines with hex
// keys, ended by a blank line.
func (c wgConfig) uapiSet() string {
	var b strings.Builder
	b.WriteString("set=1\n")
	fmt.Fprintf(&b, "private_key=%s\n", hex.EncodeToString(c.priv))
	if c.listenPort != 0 {
		fmt.Fprintf(&b, "listen_port=%d\n", c.listenPort)
	}
	for _, p := range c.peers {
		fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(p.pub))
		if p.endpoint != "" {
			fmt.Fprintf(&b, "endpoint=%s\n", p.endpoint)
		}
		if p.allowedIP != "" {
			fmt.Fprintf(&b, "allowed_ip=%s\n", p.allowedIP)
		}
		if p.keepalive != 0 {
			fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", p.keepalive)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// uapiConfigure sends c to the UAPI socket at sock and checks the answer
// is errno=0. Errors name the socket, never the keys.
func uapiConfigure(sock string, c wgConfig, timeout time.Duration) error {
	conn, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		return fmt.Errorf("wireguard UAPI %s: %w", sock, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("wireguard UAPI %s: %w", sock, err)
	}
	if _, err := conn.Write([]byte(c.uapiSet())); err != nil {
		return fmt.Errorf("wireguard UAPI %s: write set request: %w", sock, err)
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("wireguard UAPI %s: reading the answer after %q: %w", sock, lines, err)
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			break
		}
		lines = append(lines, l)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "errno=") {
			if l != "errno=0" {
				return fmt.Errorf("wireguard UAPI %s: set failed with %s", sock, l)
			}
			return nil
		}
	}
	return fmt.Errorf("wireguard UAPI %s: answer %q has no errno line", sock, lines)
}
