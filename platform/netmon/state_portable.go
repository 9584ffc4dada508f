//go:build darwin || windows

package netmon

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/cvpn/cvpn/platform"
)

// hostSource reads the state with package net and platform's route table;
// open, the OS's event subscription, is in source_darwin.go and
// source_windows.go.
type hostSource struct {
	host platform.Host
}

func preflight(*Options) error { return nil }

func newSource(o *Options) (source, error) {
	h, err := platform.Open(platform.OpenOptions{Logger: o.Logger, NoResolved: true})
	if err != nil {
		return nil, fmt.Errorf("netmon: %w", err)
	}
	return &hostSource{host: h}, nil
}

func (s *hostSource) close() error { return s.host.Close() }

func (s *hostSource) state() (state, error) { return portableState(s.host) }

// portableState reads links and addresses with package net and the
// default routes from the platform's route table.
func portableState(routes platform.Routes) (state, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return state{}, fmt.Errorf("netmon: list interfaces: %w", err)
	}
	st := state{links: map[string]bool{}}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		st.links[ifc.Name] = ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagRunning != 0
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // gone meanwhile
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ip = ip.Unmap(); ok && usableAddr(ip) {
				st.addrs = append(st.addrs, ifAddr{ifname: ifc.Name, addr: ip})
			}
		}
	}
	table, err := routes.List()
	if err != nil {
		return state{}, fmt.Errorf("netmon: list routes: %w", err)
	}
	for _, r := range table {
		if r.Dst.Bits() != 0 {
			continue
		}
		name, gw := r.Interface, r.Gateway
		if len(r.Hops) > 0 && name == "" {
			name, gw = r.Hops[0].Interface, r.Hops[0].Gateway
		}
		st.defaults = append(st.defaults, defaultRoute{ifname: name, gateway: gw, metric: r.Metric, v6: r.Dst.Addr().Is6()})
	}
	return st, nil
}
