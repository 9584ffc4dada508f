package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

func TestStreamFramingRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	sa := NewStream(a, netip.MustParseAddrPort("127.0.0.1:1"))
	sb := NewStream(b, netip.MustParseAddrPort("127.0.0.1:2"))
	pkts := [][]byte{{0x38, 1, 2, 3}, bytes.Repeat([]byte{7}, 1500), {1}}
	go func() {
		for _, p := range pkts {
			if err := sa.WritePacket(p); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	buf := make([]byte, MaxPacket)
	for i, want := range pkts {
		n, err := sb.ReadPacket(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("packet %d: got %d bytes, want %d", i, n, len(want))
		}
	}
}

func TestStreamRejectsOversizeAndTruncated(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	sb := NewStream(b, netip.MustParseAddrPort("192.0.2.1:443"))
	go func() {
		a.Write([]byte{0x01, 0x00}) // claims 256 bytes
		a.Write([]byte{1, 2, 3})
		a.Close()
	}()
	small := make([]byte, 16)
	if _, err := sb.ReadPacket(small); err == nil || !regexp.MustCompile(`192\.0\.2\.1:443.*256 bytes`).MatchString(err.Error()) {
		t.Fatalf("oversize packet: err = %v, want a message naming the peer and size", err)
	}
	if err := sb.WritePacket(nil); err == nil {
		t.Fatal("empty packet was accepted for sending")
	}
}

func TestUDPLoopback(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d Dialer
	c, err := d.Dial(ctx, UDP, srv.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Reliable() {
		t.Fatal("UDP reported reliable")
	}
	if err := c.WritePacket([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	srv.SetDeadline(time.Now().Add(5 * time.Second))
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("server got %q, %v", buf[:n], err)
	}
	srv.WriteToUDPAddrPort([]byte("world"), from)
	n, err = c.ReadPacket(buf)
	if err != nil || string(buf[:n]) != "world" {
		t.Fatalf("client got %q, %v", buf[:n], err)
	}
	if _, err := d.Dial(ctx, Proto("sctp"), from); err == nil {
		t.Fatal("unknown protocol accepted")
	}
}

type fakeResolver struct {
	asked []string
	addrs []netip.Addr
	err   error
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.asked = append(f.asked, host)
	return f.addrs, f.err
}

func TestResolveRandomHostname(t *testing.T) {
	r := &fakeResolver{addrs: []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:198.51.100.7")}}
	host := "cvpn-endpoint-0123.prod.clientvpn.eu-west-2.amazonaws.com"
	got, err := Resolve(context.Background(), r, host, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != netip.MustParseAddr("198.51.100.7") || !got[1].Is6() {
		t.Fatalf("addresses = %v, want IPv4 (unmapped) first", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}\.` + regexp.QuoteMeta(host) + `$`).MatchString(r.asked[0]) {
		t.Fatalf("looked up %q, want a random 12-hex label before the host", r.asked[0])
	}
	Resolve(context.Background(), r, host, true, time.Second)
	if r.asked[0] == r.asked[1] {
		t.Fatal("two lookups used the same random label")
	}
	Resolve(context.Background(), r, host, false, time.Second)
	if r.asked[2] != host {
		t.Fatalf("without random hostname looked up %q", r.asked[2])
	}
	if a, _ := Resolve(context.Background(), r, "203.0.113.9", true, 0); len(a) != 1 || len(r.asked) != 3 {
		t.Fatal("IP literal was looked up")
	}
	r.err = errors.New("no such host")
	if _, err := Resolve(context.Background(), r, "vpn.example.com", false, 0); err == nil || !regexp.MustCompile(`vpn\.example\.com`).MatchString(err.Error()) {
		t.Fatalf("err = %v, want the host named", err)
	}
}
