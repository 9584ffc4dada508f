package platform

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform/routesock"
	"github.com/cvpn/cvpn/routing"
)

// fakeStore emulates the scutil commands the backend uses on an in-memory
// dynamic store of flat dictionaries.
type fakeStore struct {
	keys    map[string]map[string][]string // key -> dict key -> values ("*" arrays keep order)
	arrays  map[string]map[string]bool
	scripts []string
}

func newFakeStore() *fakeStore {
	return &fakeStore{keys: map[string]map[string][]string{}, arrays: map[string]map[string]bool{}}
}

func (s *fakeStore) run(script string) (string, error) {
	s.scripts = append(s.scripts, script)
	var dict map[string][]string
	var arr map[string]bool
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "d.init":
			dict, arr = map[string][]string{}, map[string]bool{}
		case "d.add":
			vals := f[2:]
			if len(vals) > 0 && vals[0] == "#" {
				vals = vals[1:]
			}
			if len(vals) > 0 && vals[0] == "*" {
				arr[f[1]] = true
				vals = vals[1:]
			}
			dict[f[1]] = vals
		case "set":
			s.keys[f[1]], s.arrays[f[1]] = dict, arr
		case "remove":
			delete(s.keys, f[1])
		case "show":
			d, ok := s.keys[f[1]]
			if !ok {
				out.WriteString("  No such key\n")
				continue
			}
			out.WriteString("<dictionary> {\n")
			var ks []string
			for k := range d {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				if s.arrays[f[1]][k] {
					fmt.Fprintf(&out, "  %s : <array> {\n", k)
					for i, v := range d[k] {
						fmt.Fprintf(&out, "    %d : %s\n", i, v)
					}
					out.WriteString("  }\n")
				} else {
					fmt.Fprintf(&out, "  %s : %s\n", k, d[k][0])
				}
			}
			out.WriteString("}\n")
		default:
			return "", fmt.Errorf("unknown command %q", f[0])
		}
	}
	return out.String(), nil
}

const primaryID = "8A1B3C4D-0000-4E5F-9A8B-1C2D3E4F5A6B"

func setupStore() *fakeStore {
	s := newFakeStore()
	s.keys["State:/Network/Global/IPv4"] = map[string][]string{"PrimaryService": {primaryID}, "PrimaryInterface": {"en0"}}
	s.arrays["State:/Network/Global/IPv4"] = map[string]bool{}
	k := "State:/Network/Service/" + primaryID + "/DNS"
	s.keys[k] = map[string][]string{"ServerAddresses": {"192.168.1.1"}, "DomainName": {"home.example"}, "SearchOrder": {"1"}}
	s.arrays[k] = map[string]bool{"ServerAddresses": true}
	return s
}

func cloneKeys(m map[string]map[string][]string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for k, d := range m {
		out[k] = map[string][]string{}
		for dk, v := range d {
			out[k][dk] = slices.Clone(v)
		}
	}
	return out
}

func TestScutilDNSSplit(t *testing.T) {
	s := setupStore()
	before := cloneKeys(s.keys)
	d := ScutilDNS{Run: s.run}
	var rec DNSRecord
	cfg := DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, SearchDomains: []string{"corp.example"}}
	if err := d.Apply("utun4", 17, cfg, func(r DNSRecord) error { rec = r; return nil }); err != nil {
		t.Fatal(err)
	}
	own := s.keys["State:/Network/Service/cvpn-utun4/DNS"]
	want := map[string][]string{"ServerAddresses": {"10.0.0.2"}, "SearchDomains": {"corp.example"}, "SupplementalMatchDomains": {"corp.example"}}
	if !reflect.DeepEqual(own, want) {
		t.Fatalf("own key %v, want %v", own, want)
	}
	primary := s.keys["State:/Network/Service/"+primaryID+"/DNS"]
	if !reflect.DeepEqual(primary, before["State:/Network/Service/"+primaryID+"/DNS"]) {
		t.Fatalf("split DNS touched the primary service: %v", primary)
	}
	if len(rec.Keys) != 1 || !rec.Keys[0].Missing {
		t.Fatalf("record %+v", rec)
	}
	if err := d.Revert(rec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.keys, before) {
		t.Fatalf("after revert %v\nwant %v", s.keys, before)
	}
}

// TestScutilDNSRoutingDomains: resolve-domains join the supplemental match
// domains without becoming search domains.
func TestScutilDNSRoutingDomains(t *testing.T) {
	s := setupStore()
	d := ScutilDNS{Run: s.run}
	cfg := DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, RoutingDomains: []string{"lab.example"}}
	if err := d.Apply("utun4", 17, cfg, func(DNSRecord) error { return nil }); err != nil {
		t.Fatal(err)
	}
	own := s.keys["State:/Network/Service/cvpn-utun4/DNS"]
	want := map[string][]string{"ServerAddresses": {"10.0.0.2"}, "SupplementalMatchDomains": {"lab.example"}}
	if !reflect.DeepEqual(own, want) {
		t.Fatalf("own key %v, want %v", own, want)
	}
}

func TestScutilDNSFullAndCrashRevert(t *testing.T) {
	s := setupStore()
	before := cloneKeys(s.keys)
	d := ScutilDNS{Run: s.run}
	var rec DNSRecord
	cfg := DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}, FullTunnel: true}
	if err := d.Apply("utun4", 17, cfg, func(r DNSRecord) error { rec = r; return nil }); err != nil {
		t.Fatal(err)
	}
	pk := "State:/Network/Service/" + primaryID + "/DNS"
	if got := s.keys[pk]["ServerAddresses"]; !slices.Equal(got, []string{"10.0.0.2", "10.0.0.3"}) {
		t.Fatalf("primary servers %v", got)
	}
	if len(rec.Keys) != 2 || rec.Keys[1].Key != pk || rec.Keys[1].Scalars["SearchOrder"] != "1" {
		t.Fatalf("record %+v", rec)
	}
	// The record survives a crash as JSON in the state file; revert from a
	// fresh backend.
	if err := (ScutilDNS{Run: s.run}).Revert(rec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.keys, before) {
		t.Fatalf("after revert %v\nwant %v", s.keys, before)
	}
	// The restore writes SearchOrder as a number.
	restore := s.scripts[len(s.scripts)-2] // then the own key is removed
	if !strings.Contains(restore, "d.add SearchOrder # 1\n") || !strings.HasSuffix(restore, "set "+pk+"\n") {
		t.Fatalf("restore script %q", restore)
	}
}

func TestScutilDNSRevertLeavesForeignChange(t *testing.T) {
	s := setupStore()
	d := ScutilDNS{Run: s.run}
	var rec DNSRecord
	cfg := DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, FullTunnel: true}
	if err := d.Apply("utun4", 17, cfg, func(r DNSRecord) error { rec = r; return nil }); err != nil {
		t.Fatal(err)
	}
	pk := "State:/Network/Service/" + primaryID + "/DNS"
	s.keys[pk] = map[string][]string{"ServerAddresses": {"192.168.7.1"}} // DHCP renewed meanwhile
	if err := d.Revert(rec); err != nil {
		t.Fatal(err)
	}
	if got := s.keys[pk]["ServerAddresses"]; !slices.Equal(got, []string{"192.168.7.1"}) {
		t.Fatalf("revert overwrote a newer DHCP setting: %v", got)
	}
	if _, ok := s.keys["State:/Network/Service/cvpn-utun4/DNS"]; ok {
		t.Fatal("own key left behind")
	}
}

func TestScutilDNSErrors(t *testing.T) {
	s := newFakeStore() // no primary service
	d := ScutilDNS{Run: s.run}
	saved := false
	err := d.Apply("utun4", 17, DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}, func(DNSRecord) error { saved = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "no primary network service") || saved {
		t.Fatalf("err %v saved %v", err, saved)
	}
	denied := ScutilDNS{Run: func(script string) (string, error) {
		if strings.HasPrefix(script, "show") {
			return "  No such key\n", nil
		}
		return "set: Permission denied\n", nil
	}}
	err = denied.Apply("utun4", 17, DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, SearchDomains: []string{"corp.example"}}, func(DNSRecord) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("denied: %v", err)
	}
}

func TestRouteEvent(t *testing.T) {
	if routesock.Proto != ProtoCVPN {
		t.Fatalf("routesock.Proto %#x != ProtoCVPN %#x", routesock.Proto, ProtoCVPN)
	}
	dst := &routesock.Sockaddr{Family: routesock.AFInet, Addr: netip.MustParseAddr("172.31.1.0")}
	mask := &routesock.Sockaddr{Family: routesock.AFInet, Addr: netip.MustParseAddr("255.255.255.0")}
	gw := &routesock.Sockaddr{Family: routesock.AFInet, Addr: netip.MustParseAddr("192.168.1.1")}
	m := routesock.Message{Type: routesock.TypeAdd, Index: 6, Flags: routesock.FlagUp | routesock.FlagGateway | routesock.FlagStatic}
	m.Addrs[routesock.AxDst], m.Addrs[routesock.AxNetmask], m.Addrs[routesock.AxGateway] = dst, mask, gw
	ev, ok := routeEvent(&m, func(int) string { return "en0" })
	if !ok || ev.Kind != routing.ChangeAdded || ev.Route.Dst != netip.MustParsePrefix("172.31.1.0/24") || ev.Route.Interface != "en0" {
		t.Fatalf("event %+v %v", ev, ok)
	}
	m.Type = routesock.TypeDelete
	if ev, ok := routeEvent(&m, nil); !ok || ev.Kind != routing.ChangeDeleted {
		t.Fatalf("delete %+v", ev)
	}
	m.Errno = 17 // a failed request echoed back
	if _, ok := routeEvent(&m, nil); ok {
		t.Fatal("failed request reported")
	}
	m.Errno, m.Type = 0, routesock.TypeGet
	if _, ok := routeEvent(&m, nil); ok {
		t.Fatal("RTM_GET reported")
	}
}
