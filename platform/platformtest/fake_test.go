package platformtest_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/platformtest"
	"github.com/cvpn/cvpn/routing"
)

func TestTUNNamesPacketsAndRemoval(t *testing.T) {
	s := platformtest.New()
	dev0, name0, err := s.CreateTUN("cvpn%d", 1400)
	if err != nil || name0 != "cvpn0" {
		t.Fatalf("%q %v", name0, err)
	}
	_, name1, _ := s.CreateTUN("cvpn%d", 1400)
	if name1 != "cvpn1" {
		t.Fatalf("second TUN %q", name1)
	}
	if _, _, err := s.CreateTUN("cvpn1", 1400); !errors.Is(err, platform.ErrExists) {
		t.Errorf("duplicate name: %v", err)
	}
	idx, err := s.ConfigureInterface(name0, []platform.Address{{Prefix: netip.MustParsePrefix("10.8.0.6/24")}}, 1400)
	if err != nil {
		t.Fatal(err)
	}
	r := routing.Route{Dst: netip.MustParsePrefix("172.31.0.0/16"), Interface: name0}
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	// Packets written by the tunnel come out of the channel side.
	ifc, _ := s.Interface(name0)
	pkt := []byte{0x45, 0, 0, 20}
	go dev0.Write([][]byte{append(make([]byte, 16), pkt...)}, 16)
	select {
	case got := <-ifc.Chan.Inbound:
		if string(got) != string(pkt) {
			t.Errorf("packet %x", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("packet not delivered")
	}
	// Closing the device removes the interface and its routes.
	if err := dev0.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Interface(name0); ok {
		t.Error("interface left after Close")
	}
	for _, rt := range s.Routes() {
		if rt.IfIndex == idx {
			t.Errorf("route %s left after Close", platform.RouteString(rt))
		}
	}
}

func TestDeleteNeedsExactMatch(t *testing.T) {
	s := platformtest.New()
	s.AddInterface("eth0", netip.MustParsePrefix("192.168.1.10/24"))
	r := routing.Route{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("192.168.1.1"), Interface: "eth0", Metric: 5}
	if err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(r); !errors.Is(err, platform.ErrExists) {
		t.Errorf("duplicate Add: %v", err)
	}
	other := r
	other.Gateway = netip.MustParseAddr("192.168.1.2")
	if err := s.Delete(other); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Delete with another gateway: %v", err)
	}
	if err := s.Delete(r); err != nil {
		t.Errorf("exact Delete: %v", err)
	}
	if err := s.Add(routing.Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), Interface: "nosuch"}); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Add on a missing interface: %v", err)
	}
}
