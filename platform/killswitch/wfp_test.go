package killswitch_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform/killswitch"
)

// wfpConn is what WFP knows of a connection or forwarded packet at a layer.
type wfpConn struct {
	layer          killswitch.WFPLayer
	iface          string // local interface (ALE) of the connection
	loopback, self bool   // loopback flag; cvpn's own executable
	remote         netip.Addr
	proto          uint8
	lport, rport   uint16 // lport is also the ICMP type
	in, out        string // forwarded: arrival and outgoing interfaces
	src, dst       netip.Addr
	wantPermit     bool
	what           string
}

func (c wfpConn) matches(x killswitch.WFPCondition) bool {
	var ok bool
	switch x.Field {
	case killswitch.WFPRemoteAddress:
		ok = x.Prefix.Contains(c.remote)
	case killswitch.WFPSourceAddress:
		ok = x.Prefix.Contains(c.src)
	case killswitch.WFPDestinationAddress:
		ok = x.Prefix.Contains(c.dst)
	case killswitch.WFPRemotePort:
		ok = c.rport == x.Value
	case killswitch.WFPLocalPort, killswitch.WFPICMPType:
		ok = c.lport == x.Value
	case killswitch.WFPProtocol:
		ok = uint16(c.proto) == x.Value
	case killswitch.WFPLoopback:
		ok = c.loopback
	case killswitch.WFPAppSelf:
		ok = c.self
	case killswitch.WFPLocalInterface:
		ok = c.iface == x.Iface
	case killswitch.WFPArrivalInterface:
		ok = c.in == x.Iface
	case killswitch.WFPForwardInterface:
		ok = c.out == x.Iface
	}
	return ok != x.Not
}

// decide is what WFP does in one sublayer: the matching filter of the
// highest weight at c's layer decides; found is false when none matches.
func decide(fs []killswitch.WFPFilter, c wfpConn) (permit, found bool, by killswitch.WFPFilter) {
	for _, f := range fs {
		if f.Layer != c.layer || found && f.Weight <= by.Weight {
			continue
		}
		all := true
		for _, x := range f.Conditions {
			if !c.matches(x) {
				all = false
				break
			}
		}
		if all {
			found, by = true, f
		}
	}
	return by.Permit, found, by
}

func checkConns(t *testing.T, fs []killswitch.WFPFilter, conns []wfpConn) {
	t.Helper()
	for _, c := range conns {
		permit, found, by := decide(fs, c)
		if !found {
			t.Errorf("%s: no filter decides at %s", c.what, c.layer)
			continue
		}
		if permit != c.wantPermit {
			t.Errorf("%s: permit=%v by %s, want permit=%v", c.what, permit, by, c.wantPermit)
		}
	}
}

func wfpFilters(t *testing.T, r killswitch.Rules) []killswitch.WFPFilter {
	t.Helper()
	fs, err := killswitch.WFPFilters(r)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

var (
	v4 = netip.MustParseAddr
	c4 = killswitch.WFPConnectV4
	c6 = killswitch.WFPConnectV6
	r4 = killswitch.WFPRecvAcceptV4
	f4 = killswitch.WFPForwardV4
	f6 = killswitch.WFPForwardV6
)

// TestWFPFiltersShape: per layer the weights are distinct and descend in
// plan order, the last filter is the plan's policy with no conditions,
// and the forward layers use no protocol or port field (IPFORWARD has
// none) while the ALE layers use no forwarding field.
func TestWFPFiltersShape(t *testing.T) {
	for _, r := range []killswitch.Rules{full, split} {
		fs := wfpFilters(t, r)
		last := map[killswitch.WFPLayer]killswitch.WFPFilter{}
		seen := map[killswitch.WFPLayer]bool{}
		for _, f := range fs {
			if p, ok := last[f.Layer]; ok && f.Weight >= p.Weight {
				t.Errorf("%s mode: %s after %s: weights must descend", r.Mode, f, p)
			}
			last[f.Layer] = f
			seen[f.Layer] = true
			fwd := f.Layer == f4 || f.Layer == f6
			for _, c := range f.Conditions {
				switch c.Field {
				case killswitch.WFPProtocol, killswitch.WFPRemotePort, killswitch.WFPLocalPort, killswitch.WFPICMPType,
					killswitch.WFPRemoteAddress, killswitch.WFPLocalInterface, killswitch.WFPLoopback, killswitch.WFPAppSelf:
					if fwd {
						t.Errorf("%s mode: %s: an ALE field at a forward layer", r.Mode, f)
					}
				default:
					if !fwd {
						t.Errorf("%s mode: %s: a forward field at an ALE layer", r.Mode, f)
					}
				}
			}
		}
		if len(seen) != 6 {
			t.Errorf("%s mode: filters at %d layers, want 6 (connect, recv-accept, forward; v4 and v6)", r.Mode, len(seen))
		}
		for l, f := range last {
			wantPermit := r.Mode == killswitch.ModeSplit
			if f.Weight != 0 || len(f.Conditions) != 0 || f.Permit != wantPermit {
				t.Errorf("%s mode: last filter at %s is %s, want the catch-all policy (permit=%v) of weight 0", r.Mode, l, f, wantPermit)
			}
		}
	}
}

// TestWFPFiltersFull: a full block lets out only the tunnel, loopback,
// the VPN server, the net_gateway exception, cvpn's own connections to
// remote ports and DNS, DHCP and neighbour discovery; inbound connections
// and forwarded traffic outside the tunnel are blocked too.
func TestWFPFiltersFull(t *testing.T) {
	fs := wfpFilters(t, full)
	checkConns(t, fs, []wfpConn{
		{what: "an app's DNS on the LAN", layer: c4, iface: "eth0", remote: v4("192.168.1.1"), proto: 17, lport: 50000, rport: 53},
		{what: "an app's HTTPS outside the tunnel", layer: c4, iface: "eth0", remote: v4("198.51.100.1"), proto: 6, lport: 50001, rport: 443},
		{what: "an app's HTTPS through the tunnel", layer: c4, iface: "tun0", remote: v4("198.51.100.1"), proto: 6, rport: 443, wantPermit: true},
		{what: "loopback", layer: c4, iface: "lo", loopback: true, remote: v4("127.0.0.1"), proto: 6, rport: 8080, wantPermit: true},
		{what: "any app to the VPN server", layer: c4, iface: "eth0", remote: v4("203.0.113.7"), proto: 17, rport: 1194, wantPermit: true},
		{what: "another port of the VPN server", layer: c4, iface: "eth0", remote: v4("203.0.113.7"), proto: 6, rport: 22},
		{what: "the net_gateway exception", layer: c4, iface: "eth0", remote: v4("192.168.7.20"), proto: 6, rport: 445, wantPermit: true},
		{what: "cvpn to another remote's port", layer: c4, iface: "eth0", self: true, remote: v4("198.51.100.9"), proto: 6, rport: 443, wantPermit: true},
		{what: "cvpn's DNS lookup of the server", layer: c4, iface: "eth0", self: true, remote: v4("192.168.1.1"), proto: 17, rport: 53, wantPermit: true},
		{what: "cvpn to another port", layer: c4, iface: "eth0", self: true, remote: v4("198.51.100.9"), proto: 6, rport: 80},
		{what: "DHCPv4", layer: c4, iface: "eth0", remote: v4("255.255.255.255"), proto: 17, lport: 68, rport: 67, wantPermit: true},
		{what: "IPv6 neighbour solicitation", layer: c6, iface: "eth0", remote: v4("fe80::1"), proto: 58, lport: 135, wantPermit: true},
		{what: "IPv6 outside the tunnel", layer: c6, iface: "eth0", remote: v4("2001:db8::1"), proto: 6, rport: 443},
		{what: "an inbound connection from the LAN", layer: r4, iface: "eth0", remote: v4("192.168.1.50"), proto: 6, lport: 445, rport: 50000},
		{what: "an inbound connection through the tunnel", layer: r4, iface: "tun0", remote: v4("10.8.0.1"), proto: 6, lport: 22, rport: 50000, wantPermit: true},
		{what: "forwarded out of the LAN", layer: f4, in: "vEthernet", out: "eth0", src: v4("172.20.0.2"), dst: v4("198.51.100.1")},
		{what: "forwarded into the tunnel", layer: f4, in: "vEthernet", out: "tun0", src: v4("172.20.0.2"), dst: v4("198.51.100.1"), wantPermit: true},
		{what: "forwarded from the tunnel", layer: f4, in: "tun0", out: "vEthernet", src: v4("198.51.100.1"), dst: v4("172.20.0.2"), wantPermit: true},
		{what: "forwarded to the VPN server", layer: f4, in: "vEthernet", out: "eth0", src: v4("172.20.0.2"), dst: v4("203.0.113.7"), wantPermit: true},
		{what: "forwarded from the VPN server", layer: f4, in: "eth0", out: "vEthernet", src: v4("203.0.113.7"), dst: v4("172.20.0.2"), wantPermit: true},
		{what: "forwarded to the net_gateway exception", layer: f4, in: "vEthernet", out: "eth0", src: v4("172.20.0.2"), dst: v4("192.168.7.3"), wantPermit: true},
		{what: "forwarded IPv6 out of the LAN", layer: f6, in: "vEthernet", out: "eth0", src: v4("fd00::2"), dst: v4("2001:db8::1")},
	})
}

// TestWFPFiltersSplit: a split block stops only the VPN's prefixes
// outside the tunnel (the net_gateway exception inside them passes), for
// the machine's connections, inbound connections and forwarded traffic.
func TestWFPFiltersSplit(t *testing.T) {
	fs := wfpFilters(t, split)
	checkConns(t, fs, []wfpConn{
		{what: "a VPN prefix outside the tunnel", layer: c4, iface: "eth0", remote: v4("10.20.1.1"), proto: 6, rport: 443},
		{what: "a VPN prefix through the tunnel", layer: c4, iface: "tun0", remote: v4("10.20.1.1"), proto: 6, rport: 443, wantPermit: true},
		{what: "the net_gateway exception inside the VPN prefix", layer: c4, iface: "eth0", remote: v4("10.20.5.9"), proto: 6, rport: 443, wantPermit: true},
		{what: "another destination", layer: c4, iface: "eth0", remote: v4("198.51.100.1"), proto: 6, rport: 443, wantPermit: true},
		{what: "an IPv6 VPN prefix outside the tunnel", layer: c6, iface: "eth0", remote: v4("fd31::5"), proto: 17, rport: 53},
		{what: "other IPv6", layer: c6, iface: "eth0", remote: v4("2001:db8::1"), proto: 17, rport: 53, wantPermit: true},
		{what: "cvpn itself to a VPN prefix outside the tunnel", layer: c4, iface: "eth0", self: true, remote: v4("10.20.1.1"), proto: 6, rport: 443},
		{what: "an inbound connection from a VPN prefix outside the tunnel", layer: r4, iface: "eth0", remote: v4("10.20.1.1"), proto: 6, lport: 22},
		{what: "forwarded to a VPN prefix outside the tunnel", layer: f4, in: "vEthernet", out: "eth0", src: v4("172.20.0.2"), dst: v4("10.20.1.1")},
		{what: "forwarded elsewhere", layer: f4, in: "vEthernet", out: "eth0", src: v4("172.20.0.2"), dst: v4("198.51.100.1"), wantPermit: true},
		{what: "forwarded IPv6 to a VPN prefix outside the tunnel", layer: f6, in: "vEthernet", out: "eth0", src: v4("fd00::2"), dst: v4("fd31::1")},
	})
}

// TestWFPFiltersNoTunnelYet: before the tunnel exists no filter names it,
// and a full block still lets cvpn reach the server.
func TestWFPFiltersNoTunnelYet(t *testing.T) {
	r := full
	r.Tunnel = ""
	fs := wfpFilters(t, r)
	for _, f := range fs {
		for _, c := range f.Conditions {
			if c.Iface != "" {
				t.Errorf("%s names an interface before the tunnel exists", f)
			}
		}
	}
	checkConns(t, fs, []wfpConn{
		{what: "cvpn to the server", layer: c4, iface: "eth0", self: true, remote: v4("203.0.113.7"), proto: 17, rport: 1194, wantPermit: true},
		{what: "an app outside", layer: c4, iface: "eth0", remote: v4("198.51.100.1"), proto: 6, rport: 443},
	})
	if _, err := killswitch.WFPFilters(killswitch.Rules{Mode: killswitch.ModeSplit}); err == nil || !strings.Contains(err.Error(), "prefixes") {
		t.Errorf("a split block without prefixes: %v, want the validation error", err)
	}
}

// TestWFPDNSFilters: block-outside-dns blocks DNS (UDP and TCP, IPv4 and
// IPv6) of other programs outside the tunnel and loopback; it has only
// block filters, so in a sublayer of its own it never permits anything a
// kill-switch block stops.
func TestWFPDNSFilters(t *testing.T) {
	fs, err := killswitch.WFPDNSFilters("tun0")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Permit {
			t.Errorf("%s permits", f)
		}
	}
	blocked := func(c wfpConn) bool {
		_, found, _ := decide(fs, c)
		return found
	}
	for _, c := range []wfpConn{
		{what: "UDP DNS on the LAN", layer: c4, iface: "eth0", remote: v4("192.168.1.1"), proto: 17, rport: 53},
		{what: "TCP DNS on the LAN", layer: c4, iface: "eth0", remote: v4("192.168.1.1"), proto: 6, rport: 53},
		{what: "IPv6 DNS on the LAN", layer: c6, iface: "eth0", remote: v4("fe80::1"), proto: 17, rport: 53},
	} {
		if !blocked(c) {
			t.Errorf("%s passes", c.what)
		}
	}
	for _, c := range []wfpConn{
		{what: "DNS through the tunnel", layer: c4, iface: "tun0", remote: v4("10.8.0.1"), proto: 17, rport: 53},
		{what: "DNS over loopback", layer: c4, iface: "lo", loopback: true, remote: v4("127.0.0.1"), proto: 17, rport: 53},
		{what: "cvpn's own DNS lookup of the server", layer: c4, iface: "eth0", self: true, remote: v4("192.168.1.1"), proto: 17, rport: 53},
		{what: "HTTPS on the LAN", layer: c4, iface: "eth0", remote: v4("192.168.1.1"), proto: 6, rport: 443},
		{what: "UDP from port 53 to another port", layer: c4, iface: "eth0", remote: v4("192.168.1.1"), proto: 17, lport: 53, rport: 5353},
	} {
		if blocked(c) {
			t.Errorf("%s is blocked", c.what)
		}
	}
	if _, err := killswitch.WFPDNSFilters(""); err == nil {
		t.Error("block-outside-dns without a tunnel: no error")
	}
}
