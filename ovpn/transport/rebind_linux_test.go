package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRebindKeepsTheSocket rebinds a connected UDP transport: it gets a
// new local port from the kernel, and the same Conn keeps sending (from
// the new address) and receiving.
func TestRebindKeepsTheSocket(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var d Dialer
	c, err := d.Dial(context.Background(), UDP, srv.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(want netip.AddrPort) {
		t.Helper()
		if err := c.WritePacket([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("server read %q, %v", buf[:n], err)
		}
		if from != want {
			t.Fatalf("packet came from %v, want %v", from, want)
		}
		if _, err := srv.WriteToUDPAddrPort([]byte("pong"), from); err != nil {
			t.Fatal(err)
		}
		n, err = c.ReadPacket(buf)
		if err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("client read %q, %v", buf[:n], err)
		}
	}
	before := LocalAddrPort(c)
	roundTrip(before)
	after, err := Rebind(c)
	if err != nil {
		t.Fatal(err)
	}
	if after == before || after.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("rebind gave %v (was %v), want a new port on 127.0.0.1", after, before)
	}
	if got := LocalAddrPort(c); got != after {
		t.Fatalf("LocalAddrPort = %v after rebind to %v", got, after)
	}
	roundTrip(after)
	if _, err := SourceFor(netip.MustParseAddrPort("127.0.0.1:9")); err != nil {
		t.Fatalf("SourceFor loopback: %v", err)
	}
}
