package km2

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

func clientMsg(f Framing) *Message {
	m := &Message{Framing: f, Sender: wire.RoleClient, Options: "V4,dev-type tun", Username: "alice", Password: "s3cret", PeerInfo: "IV_VER=2.6.0\nIV_PROTO=990\n"}
	for i := range m.PreMaster {
		m.PreMaster[i] = byte(i)
	}
	for i := range m.Random1 {
		m.Random1[i] = byte(100 + i)
		m.Random2[i] = byte(200 + i)
	}
	return m
}

func TestStandardEncodingBytes(t *testing.T) {
	m := &Message{Sender: wire.RoleServer, Options: "ab"}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 0, 0, 2}
	want = append(want, make([]byte, 64)...)
	want = append(want, 0, 3, 'a', 'b', 0, 0, 0, 0, 0, 0, 0)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	m.Framing = AWS
	b, _ = m.MarshalBinary()
	wantAWS := []byte{byte(len(b)), 0, 0, 0, 2}
	wantAWS = append(wantAWS, make([]byte, 64)...)
	wantAWS = append(wantAWS, 0, 0, 0, 3, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if !bytes.Equal(b, wantAWS) || len(b) != 88 {
		t.Fatalf("aws got  %x\nwant %x", b, wantAWS)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []Framing{Standard, AWS} {
		for _, sender := range []wire.Role{wire.RoleClient, wire.RoleServer} {
			m := clientMsg(f)
			m.Sender = sender
			if sender == wire.RoleServer {
				m.PreMaster = [48]byte{}
				m.Username, m.Password, m.PeerInfo = "", "", ""
			}
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if DetectFraming(b) != f {
				t.Fatalf("detected %v want %v", DetectFraming(b), f)
			}
			got, err := Unmarshal(b, sender)
			if err != nil {
				t.Fatalf("%v %v: %v", f, sender, err)
			}
			if *got != *m {
				t.Fatalf("%v %v: round trip\n got %+v\nwant %+v", f, sender, got, m)
			}
			// AWS messages carry their length and survive any chunking;
			// standard ones rely on record-sized reads like tls.Conn's.
			var r io.Reader = bytes.NewReader(b)
			if f == AWS {
				r = iotest.OneByteReader(r)
			}
			got2, err := Read(r, sender)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if *got2 != *m {
				t.Fatal("Read mismatch")
			}
		}
	}
}

func TestPeerInfoOptional(t *testing.T) {
	m := clientMsg(Standard)
	m.PeerInfo = ""
	b, _ := m.MarshalBinary()
	b = b[:len(b)-2] // stock servers may omit the whole peer_info field
	got, err := Unmarshal(b, wire.RoleClient)
	if err != nil || got.PeerInfo != "" || got.Password != "s3cret" {
		t.Fatalf("%v %+v", err, got)
	}
}

func TestAWSBigPassword(t *testing.T) {
	m := clientMsg(AWS)
	m.Username = "N/A"
	m.Password = "CRV1::state::" + strings.Repeat("P", 100<<10)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if int(binary.LittleEndian.Uint32(b)) != len(b) {
		t.Fatal("length prefix does not match")
	}
	got, err := Read(iotest.HalfReader(bytes.NewReader(b)), wire.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if got.Password != m.Password {
		t.Fatal("password mismatch")
	}
	// The same password cannot go in the standard framing.
	m.Framing = Standard
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "PPPP") {
		t.Fatalf("standard big password: %v", err)
	}
	// Over the AWS limit.
	m.Framing = AWS
	m.Password = strings.Repeat("x", MaxUserPassAWS)
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "password is 131072 bytes") {
		t.Fatalf("aws too big: %v", err)
	}
}

func TestSendLimits(t *testing.T) {
	m := clientMsg(Standard)
	m.Username = strings.Repeat("u", 127)
	if _, err := m.MarshalBinary(); err != nil {
		t.Fatalf("127-byte username: %v", err)
	}
	m.Username = strings.Repeat("u", 128)
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "username is 128 bytes") {
		t.Fatalf("128-byte username: %v", err)
	}
	m = clientMsg(Standard)
	m.Options = strings.Repeat("o", 512)
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "options") {
		t.Fatalf("options: %v", err)
	}
	m = clientMsg(Standard)
	m.Password = "a\x00b"
	if _, err := m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "password contains a NUL") {
		t.Fatalf("NUL: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := clientMsg(Standard).MarshalBinary()
	for n := 0; n < len(good)-len("IV_VER=2.6.0\nIV_PROTO=990\n")-3; n++ {
		if _, err := Unmarshal(good[:n], wire.RoleClient); !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
		if _, err := Read(bytes.NewReader(good[:n]), wire.RoleClient); !errors.Is(err, ErrTruncated) {
			t.Fatalf("Read truncated at %d: %v", n, err)
		}
	}
	bad := append([]byte(nil), good...)
	bad[4] = 1
	if _, err := Unmarshal(bad, wire.RoleClient); err == nil || !strings.Contains(err.Error(), "key method 1") {
		t.Fatal(err)
	}
	if _, err := Unmarshal(append(append([]byte{}, good...), 9), wire.RoleClient); err == nil || !strings.Contains(err.Error(), "unexpected bytes") {
		t.Fatal(err)
	}
	// Missing NUL terminator on options.
	off := 5 + 48 + 64
	bad = append([]byte(nil), good...)
	bad[off+2+15] = 'x'
	if _, err := Unmarshal(bad, wire.RoleClient); err == nil || !strings.Contains(err.Error(), "options in client message is not NUL-terminated") {
		t.Fatal(err)
	}
	// Oversized field in AWS framing.
	aws, _ := clientMsg(AWS).MarshalBinary()
	binary.BigEndian.PutUint32(aws[off:], MaxOptionsRecv+1)
	if _, err := Unmarshal(aws, wire.RoleClient); err == nil || !strings.Contains(err.Error(), "options in client message is 16385 bytes") {
		t.Fatal(err)
	}
	// AWS prefix disagreeing with the fields.
	aws, _ = clientMsg(AWS).MarshalBinary()
	aws = append(aws, 0)
	binary.LittleEndian.PutUint32(aws, uint32(len(aws)))
	if _, err := Unmarshal(aws, wire.RoleClient); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Fatal(err)
	}
	// AWS absurd length.
	if _, err := Read(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0x7f, 2}), wire.RoleClient); err == nil || !strings.Contains(err.Error(), "claims") {
		t.Fatal(err)
	}
}

func TestDetectFraming(t *testing.T) {
	if DetectFraming([]byte{0, 0, 0, 0}) != Standard || DetectFraming([]byte{1, 0, 0, 0}) != AWS || DetectFraming(nil) != Standard {
		t.Fatal("DetectFraming")
	}
}

// TestOverTLS sends both messages through a real TLS connection the way a
// session does: one Write per message, then a control message after it.
func TestOverTLS(t *testing.T) {
	cli, srv := tlsPair(t)
	for _, f := range []Framing{Standard, AWS} {
		m := clientMsg(f)
		if f == AWS {
			m.Password = strings.Repeat("S", 100<<10)
		}
		errc := make(chan error, 1)
		go func() {
			if _, err := m.WriteTo(cli); err != nil {
				errc <- err
				return
			}
			_, err := cli.Write([]byte("PUSH_REQUEST\x00"))
			errc <- err
		}()
		got, err := Read(srv, wire.RoleClient)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if *got != *m {
			t.Fatalf("%v: mismatch", f)
		}
		buf := make([]byte, 100)
		n, err := srv.Read(buf)
		if err != nil || string(buf[:n]) != "PUSH_REQUEST\x00" {
			t.Fatalf("next record %q %v", buf[:n], err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// Server reply.
	sm := &Message{Sender: wire.RoleServer, Options: OCC{Server: true, Cipher: "AES-256-GCM", KeyBits: 256}.String()}
	go sm.WriteTo(srv)
	got, err := Read(cli, wire.RoleServer)
	if err != nil || got.Options != sm.Options {
		t.Fatalf("server message: %v", err)
	}
}

func tlsPair(t *testing.T) (*tls.Conn, *tls.Conn) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	_ = c1.SetDeadline(time.Now().Add(20 * time.Second))
	_ = c2.SetDeadline(time.Now().Add(20 * time.Second))
	srv := tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, DynamicRecordSizingDisabled: true})
	cli := tls.Client(c1, &tls.Config{InsecureSkipVerify: true, DynamicRecordSizingDisabled: true})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return cli, srv
}

func TestMessageStringHidesPassword(t *testing.T) {
	m := clientMsg(Standard)
	if s := m.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "alice") {
		t.Fatal(s)
	}
	m.Zero()
	if m.PreMaster != [48]byte{} || m.Password != "" {
		t.Fatal("Zero")
	}
}
