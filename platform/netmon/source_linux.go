package netmon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
)

// Netlink channel sizes and the socket buffer asked for; an overflow
// (ENOBUFS) ends the subscription, and the loop resubscribes and re-reads.
const (
	nlBuffer = 256
	nlRcvBuf = 1 << 20
)

// linuxSource reads netlink in the current namespace or a given one.
type linuxSource struct {
	ns *netns.NsHandle
	h  *netlink.Handle
}

// preflight checks that the namespace to watch exists.
func preflight(o *Options) error {
	if o.NetNSPath == "" {
		return nil
	}
	if _, err := os.Stat(o.NetNSPath); err != nil {
		return fmt.Errorf("netmon: Options.NetNSPath: %w", err)
	}
	return nil
}

func newSource(o *Options) (source, error) {
	if o.NetNSPath == "" {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("netmon: netlink: %w", err)
		}
		return &linuxSource{h: h}, nil
	}
	ns, err := netns.GetFromPath(o.NetNSPath)
	if err != nil {
		return nil, fmt.Errorf("netmon: network namespace %s: %w", o.NetNSPath, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netmon: netlink in %s: %w", o.NetNSPath, err)
	}
	return &linuxSource{ns: &ns, h: h}, nil
}

func (s *linuxSource) close() error {
	s.h.Close()
	if s.ns != nil {
		return s.ns.Close()
	}
	return nil
}

// nlReceiver is one set of link, address and route subscriptions.
type nlReceiver struct {
	links  chan netlink.LinkUpdate
	addrs  chan netlink.AddrUpdate
	routes chan netlink.RouteUpdate
	done   chan struct{}
	errc   chan error
	once   sync.Once
	err    error // set once the subscription failed; read by Receive only
}

func (s *linuxSource) open() (watchloop.Receiver[event], error) {
	r := &nlReceiver{
		links: make(chan netlink.LinkUpdate, nlBuffer), addrs: make(chan netlink.AddrUpdate, nlBuffer),
		routes: make(chan netlink.RouteUpdate, nlBuffer), done: make(chan struct{}), errc: make(chan error, 1),
	}
	onErr := func(err error) {
		select {
		case r.errc <- err:
		default:
		}
	}
	// A channel whose subscription did not start is closed here, so
	// Close's drain ends.
	err := netlink.LinkSubscribeWithOptions(r.links, r.done, netlink.LinkSubscribeOptions{
		Namespace: s.ns, ErrorCallback: onErr, ReceiveBufferSize: nlRcvBuf})
	if err != nil {
		close(r.done)
		return nil, fmt.Errorf("netmon: subscribe to link events: %w", err)
	}
	err = netlink.AddrSubscribeWithOptions(r.addrs, r.done, netlink.AddrSubscribeOptions{
		Namespace: s.ns, ErrorCallback: onErr, ReceiveBufferSize: nlRcvBuf})
	if err != nil {
		close(r.addrs)
		close(r.routes)
		r.Close()
		return nil, fmt.Errorf("netmon: subscribe to address events: %w", err)
	}
	err = netlink.RouteSubscribeWithOptions(r.routes, r.done, netlink.RouteSubscribeOptions{
		Namespace: s.ns, ErrorCallback: onErr, ReceiveBufferSize: nlRcvBuf})
	if err != nil {
		close(r.routes)
		r.Close()
		return nil, fmt.Errorf("netmon: subscribe to route events: %w", err)
	}
	return r, nil
}

// Receive returns the interesting events queued, at least one: every link
// and address event, and route events of main-table default routes.
func (r *nlReceiver) Receive() ([]event, error) {
	var out []event
	for r.err == nil && (len(out) == 0 || len(out) < nlBuffer && r.queued()) {
		if e, ok := r.next(); ok {
			out = append(out, e)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return nil, r.err
}

// queued reports whether a message or an error is waiting.
func (r *nlReceiver) queued() bool {
	return len(r.links)+len(r.addrs)+len(r.routes)+len(r.errc) > 0
}

// next waits for one message; it returns its event when it is interesting,
// and sets r.err when the subscription failed or closed.
func (r *nlReceiver) next() (event, bool) {
	closed := func() {
		select {
		case err := <-r.errc:
			r.err = fmt.Errorf("netmon: netlink events: %w", err)
		default:
			r.err = errors.New("netmon: netlink subscription closed")
		}
	}
	select {
	case err := <-r.errc:
		r.err = fmt.Errorf("netmon: netlink events: %w", err)
	case u, ok := <-r.links:
		if !ok {
			closed()
			break
		}
		return event{kind: evLink, detail: u.Attrs().Name}, true
	case u, ok := <-r.addrs:
		if !ok {
			closed()
			break
		}
		return event{kind: evAddress, detail: u.LinkAddress.String()}, true
	case u, ok := <-r.routes:
		if !ok {
			closed()
			break
		}
		if u.Table == unix.RT_TABLE_MAIN && isDefault(u.Dst) {
			return event{kind: evRoute}, true
		}
	}
	return event{}, false
}

// Close closes the sockets; netlink's readers then close their channels,
// which are drained so no reader blocks on them.
func (r *nlReceiver) Close() error {
	r.once.Do(func() {
		close(r.done)
		links, addrs, routes := r.links, r.addrs, r.routes
		for links != nil || addrs != nil || routes != nil {
			select {
			case _, ok := <-links:
				if !ok {
					links = nil
				}
			case _, ok := <-addrs:
				if !ok {
					addrs = nil
				}
			case _, ok := <-routes:
				if !ok {
					routes = nil
				}
			}
		}
	})
	return nil
}

func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}

// state reads links, addresses and default routes through netlink; a dump
// interrupted by a change is read again.
func (s *linuxSource) state() (state, error) {
	var (
		st  state
		err error
	)
	for attempt := 0; attempt < 5; attempt++ {
		st, err = s.read()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return st, err
}

func (s *linuxSource) read() (state, error) {
	links, err := s.h.LinkList()
	if err != nil {
		return state{}, fmt.Errorf("netmon: list links: %w", err)
	}
	st := state{links: map[string]bool{}}
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		if a.Flags&net.FlagLoopback != 0 {
			continue
		}
		st.links[a.Name] = a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
	}
	addrs, err := s.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return state{}, fmt.Errorf("netmon: list addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || names[a.LinkIndex] == "" {
			continue
		}
		if ip = ip.Unmap(); usableAddr(ip) {
			st.addrs = append(st.addrs, ifAddr{ifname: names[a.LinkIndex], addr: ip})
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := s.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return state{}, fmt.Errorf("netmon: list routes: %w", err)
		}
		for _, r := range routes {
			if !isDefault(r.Dst) || (r.Type != 0 && r.Type != unix.RTN_UNICAST) {
				continue
			}
			idx, gw := r.LinkIndex, r.Gw
			if len(r.MultiPath) > 0 && idx == 0 {
				idx, gw = r.MultiPath[0].LinkIndex, r.MultiPath[0].Gw
			}
			g, _ := netip.AddrFromSlice(gw)
			st.defaults = append(st.defaults, defaultRoute{
				ifname: names[idx], gateway: g.Unmap(), metric: uint32(r.Priority), v6: fam == netlink.FAMILY_V6,
			})
		}
	}
	return st, nil
}
