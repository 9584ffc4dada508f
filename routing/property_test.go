package routing

import (
	"fmt"
	"math/rand"
	"net/netip"
	"path/filepath"
	"testing"
)

// randomIn returns a random address inside p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	p = Canonical(p)
	base := p.Addr().AsSlice()
	buf := make([]byte, len(base))
	rng.Read(buf)
	bits := p.Bits()
	for i := range buf {
		switch {
		case (i+1)*8 <= bits:
			buf[i] = base[i]
		case i*8 < bits:
			keep := byte(0xff << (8 - (bits - i*8)))
			buf[i] = base[i]&keep | buf[i]&^keep
		}
	}
	a, _ := netip.AddrFromSlice(buf)
	return a
}

// randomPrefix returns a random prefix of the family of fam, near one of
// the anchors half of the time so that overlaps are common.
func randomPrefix(rng *rand.Rand, is4 bool, anchors []netip.Prefix) netip.Prefix {
	var same []netip.Prefix
	for _, a := range anchors {
		if a.Addr().Is4() == is4 {
			same = append(same, a)
		}
	}
	maxBits := 32
	if !is4 {
		maxBits = 128
	}
	if len(same) > 0 && rng.Intn(2) == 0 {
		a := same[rng.Intn(len(same))]
		bits := a.Bits() + rng.Intn(maxBits-a.Bits()+1) - 2 // mostly more specific, sometimes less
		bits = max(0, min(maxBits, bits))
		return netip.PrefixFrom(randomIn(rng, a), bits).Masked()
	}
	var whole netip.Prefix
	if is4 {
		whole = netip.MustParsePrefix("0.0.0.0/0")
	} else {
		whole = netip.MustParsePrefix("::/0")
	}
	return netip.PrefixFrom(randomIn(rng, whole), rng.Intn(maxBits+1)).Masked()
}

type scenario struct {
	vpn, exempt []netip.Prefix
	policy      Policy
	routes      []Route
}

func randomScenario(rng *rand.Rand) scenario {
	var s scenario
	ignored := IgnoredNetworks()
	switch rng.Intn(4) {
	case 0: // full tunnel
		s.vpn = append(RedirectGatewayIPv4(), RedirectGatewayIPv6()...)
	default:
		for range 1 + rng.Intn(4) {
			s.vpn = append(s.vpn, netip.PrefixFrom(randomIn(rng, netip.MustParsePrefix("0.0.0.0/0")), 4+rng.Intn(25)).Masked())
		}
		for range rng.Intn(3) {
			s.vpn = append(s.vpn, netip.PrefixFrom(randomIn(rng, netip.MustParsePrefix("::/0")), 8+rng.Intn(60)).Masked())
		}
	}
	for range rng.Intn(3) {
		s.exempt = append(s.exempt, randomPrefix(rng, rng.Intn(2) == 0, s.vpn))
	}
	server := randomIn(rng, netip.MustParsePrefix("0.0.0.0/0"))
	s.exempt = append(s.exempt, HostPrefix(server))
	tunnel := Tunnel{Name: "tun0", Index: 9}
	s.policy = Policy{Enabled: true, VPN: NewSet(s.vpn...), Exempt: NewSet(s.exempt...), Ignored: NewSet(ignored...), Tunnel: tunnel}

	t := newMemTable()
	add := func(r Route) {
		if t.inject(r) == nil {
			s.routes = append(s.routes, r)
		}
	}
	for _, v := range s.vpn {
		add(Route{Dst: v, Interface: "tun0", IfIndex: 9, Table: MainTable, Metric: uint32(rng.Intn(3) * 50)})
	}
	add(Route{Dst: HostPrefix(server), Gateway: addr("192.168.1.1"), Interface: "eth0", IfIndex: 2, Table: MainTable})
	add(lan("0.0.0.0/0", "192.168.1.1"))
	add(lan("::/0", "fe80::1"))
	for range 5 + rng.Intn(40) {
		anchors := s.vpn
		switch rng.Intn(6) {
		case 0:
			anchors = s.exempt
		case 1:
			anchors = ignored
		}
		r := Route{
			Dst:       randomPrefix(rng, rng.Intn(3) != 0, anchors),
			Interface: []string{"eth0", "wlan0", "tun0", "docker0"}[rng.Intn(4)],
			Metric:    uint32(rng.Intn(4) * 100),
			Table:     []uint32{MainTable, MainTable, MainTable, 0, 100, 255}[rng.Intn(6)],
			Type:      []uint8{TypeUnicast, TypeUnicast, TypeUnicast, TypeUnspec, TypeBlackhole, TypeLocal, TypeBroadcast}[rng.Intn(7)],
			Protocol:  uint8(rng.Intn(20)),
		}
		r.IfIndex = map[string]int{"eth0": 2, "wlan0": 3, "tun0": 9, "docker0": 4}[r.Interface]
		if rng.Intn(2) == 0 {
			if r.Dst.Addr().Is4() {
				r.Gateway = randomIn(rng, netip.MustParsePrefix("192.168.1.0/24"))
			} else {
				r.Gateway = randomIn(rng, netip.MustParsePrefix("fe80::/64"))
			}
		}
		add(r)
	}
	return s
}

// TestPropertyEnforcement checks, over random VPN prefixes and random
// tables, that after enforcement every tunnel address that is neither exempt
// nor ignored is routed into the tunnel, that no route outside the VPN
// prefixes is touched, that churn is journaled once, and that Stop restores
// the original table exactly.
func TestPropertyEnforcement(t *testing.T) {
	const iterations = 200
	rng := rand.New(rand.NewSource(20261103))
	ignored := NewSet(IgnoredNetworks()...)
	for it := range iterations {
		s := randomScenario(rng)
		table := newMemTable(s.routes...)
		journal := filepath.Join(t.TempDir(), fmt.Sprintf("j%d.json", it))
		var removedEvents, restoredEvents int
		e, err := NewEnforcer(Config{Policy: s.policy, Table: table, JournalPath: journal, OnEvent: func(ev Event) {
			switch ev.Action {
			case ActionRemoved:
				removedEvents++
			case ActionRestored:
				restoredEvents++
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(t.Context()); err != nil {
			t.Fatalf("iteration %d: Start: %v", it, err)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("iteration %d (vpn %v exempt %v):\n%s\ntable before: %v", it, s.vpn, s.exempt, fmt.Sprintf(format, args...), s.routes)
		}

		// 1. Tunnel addresses win through the tunnel.
		for range 200 {
			v := s.vpn[rng.Intn(len(s.vpn))]
			a := randomIn(rng, v)
			if s.policy.Exempt.ContainsAddr(a) || ignored.ContainsAddr(a) {
				continue
			}
			r, ok := table.lookup(a)
			if !ok || !s.policy.Tunnel.Carries(r) {
				fail("address %s inside VPN prefix %s is routed by %v (found %v)", a, v, r, ok)
			}
		}

		// 2. Only conflicting routes inside VPN prefixes were removed.
		after := table.snapshot()
		var removed []Route
		for _, r := range s.routes {
			if !containsRoute(after, r) {
				removed = append(removed, r)
			}
		}
		for _, r := range removed {
			if !s.policy.VPN.Covers(r.Dst) {
				fail("route %v outside every VPN prefix was removed", r)
			}
			if _, ok := s.policy.Conflict(r); !ok {
				fail("non-conflicting route %v was removed", r)
			}
		}
		if len(after)+len(removed) != len(s.routes) {
			fail("table has %d routes after enforcement, %d removed, of %d: something was added", len(after), len(removed), len(s.routes))
		}
		if removedEvents != len(removed) || len(e.Journaled()) != len(removed) {
			fail("%d removed, %d events, %d journaled", len(removed), removedEvents, len(e.Journaled()))
		}

		// 3. Churn: removed routes come back (DHCP) and are removed again,
		// journaled once.
		for range rng.Intn(4) {
			if len(removed) == 0 {
				break
			}
			r := removed[rng.Intn(len(removed))]
			if table.inject(r) == nil {
				if err := e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: r}); err != nil {
					fail("Handle: %v", err)
				}
				if containsRoute(table.snapshot(), r) {
					fail("re-added %v not removed again", r)
				}
			}
		}
		if len(e.Journaled()) != len(removed) {
			fail("journal grew to %d entries from %d after churn", len(e.Journaled()), len(removed))
		}

		// 4. Stop restores the original table exactly.
		if err := e.Stop(t.Context()); err != nil {
			fail("Stop: %v", err)
		}
		if !sameRoutes(table.snapshot(), s.routes) {
			fail("Stop did not restore the table:\n got %v", table.snapshot())
		}
		if restoredEvents != len(removed) {
			fail("%d restored events for %d removed routes", restoredEvents, len(removed))
		}
	}
}

func containsRoute(rs []Route, r Route) bool {
	for _, o := range rs {
		if o.Equal(r) {
			return true
		}
	}
	return false
}

// TestPropertySetMatchesBruteForce compares Set.Covering with a linear scan.
func TestPropertySetMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for range 500 {
		var members []netip.Prefix
		for range rng.Intn(12) {
			members = append(members, randomPrefix(rng, rng.Intn(2) == 0, members))
		}
		s := NewSet(members...)
		for range 50 {
			p := randomPrefix(rng, rng.Intn(2) == 0, members)
			var want netip.Prefix
			found := false
			for _, m := range members {
				if PrefixContains(m, p) && (!found || m.Bits() > want.Bits()) {
					want, found = Canonical(m), true
				}
			}
			got, ok := s.Covering(p)
			if ok != found || got != want {
				t.Fatalf("members %v: Covering(%s) = %s, %v; brute force %s, %v", members, p, got, ok, want, found)
			}
			overlap := false
			for _, m := range members {
				overlap = overlap || PrefixOverlaps(m, p)
			}
			if s.Overlaps(p) != overlap {
				t.Fatalf("members %v: Overlaps(%s) = %v, brute force %v", members, p, !overlap, overlap)
			}
		}
	}
}

func BenchmarkConflicts10k(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	vpn := append(RedirectGatewayIPv6(), netip.MustParsePrefix("172.31.0.0/16"), netip.MustParsePrefix("10.0.0.0/8"))
	for range 30 {
		vpn = append(vpn, netip.PrefixFrom(randomIn(rng, netip.MustParsePrefix("0.0.0.0/0")), 8+rng.Intn(17)).Masked())
	}
	exempt := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("203.0.113.10/32")}
	table := make([]Route, 0, 10000)
	for len(table) < 10000 {
		table = append(table, Route{
			Dst:       randomPrefix(rng, rng.Intn(4) != 0, vpn),
			Interface: "eth0", IfIndex: 2, Table: MainTable, Type: TypeUnicast,
		})
	}
	tunnel := Tunnel{Name: "tun0", Index: 9}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(Conflicts(vpn, exempt, table, tunnel))
	}
	b.ReportMetric(float64(n), "conflicts")
}
