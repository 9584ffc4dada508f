package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/platform/darwin/ifalias"
	"github.com/cvpn/cvpn/platform/routesock"
	"github.com/cvpn/cvpn/routing"
)

// darwinHost is the macOS System: utun devices, the routing socket for
// routes, ioctls for addresses and scutil for DNS.
type darwinHost struct {
	log      *slog.Logger
	coalesce time.Duration
	resync   time.Duration
	seq      atomic.Int32
	pid      int32
	dns      ScutilDNS
}

// scutilTimeout bounds one scutil run.
const scutilTimeout = 10 * time.Second

// Open returns the System of the running OS: macOS.
func Open(opts OpenOptions) (Host, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &darwinHost{log: log, coalesce: opts.CoalesceWindow, resync: opts.ResyncInterval, pid: int32(os.Getpid())}
	if h.coalesce <= 0 {
		h.coalesce = 5 * time.Millisecond
	}
	if h.resync <= 0 {
		h.resync = 30 * time.Second
	}
	h.dns = ScutilDNS{Run: runScutil, Logger: log}
	return h, nil
}

// runScutil runs /usr/sbin/scutil with script on its standard input.
func runScutil(script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scutilTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/sbin/scutil")
	cmd.Stdin = strings.NewReader(script)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.String() + stderr.String(), nil
}

func (h *darwinHost) Close() error { return nil }

func (h *darwinHost) DNS() DNS { return h.dns }

// ifNames resolves interface indexes to names, caching within one call.
type ifNames map[int]string

func (n ifNames) name(idx int) string {
	if s, ok := n[idx]; ok {
		return s
	}
	s := ""
	if ifi, err := net.InterfaceByIndex(idx); err == nil {
		s = ifi.Name
	}
	n[idx] = s
	return s
}

// List implements routing.RouteTable: the main table, IPv4 and IPv6.
func (h *darwinHost) List() ([]routing.Route, error) { return h.list(FamilyAll) }

// list lists the main table's routes of family f.
func (h *darwinHost) list(f Family) ([]routing.Route, error) {
	rib, err := route.FetchRIB(unix.AF_UNSPEC, route.RIBTypeRoute, 0)
	if err != nil {
		return nil, fmt.Errorf("platform: list %s routes (sysctl NET_RT_DUMP): %w", f, err)
	}
	msgs, err := routesock.Parse(rib)
	if err != nil {
		return nil, fmt.Errorf("platform: list %s routes: %w", f, err)
	}
	names := ifNames{}
	var out []routing.Route
	for i := range msgs {
		r, ok := msgs[i].ToRoute(names.name)
		if ok && f.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ifIndex resolves a route's interface index from its name when needed.
func ifIndex(idx int, name string) (int, error) {
	if idx != 0 || name == "" {
		return idx, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, ErrNotFound)
	}
	return ifi.Index, nil
}

// routeSocket opens an AF_ROUTE socket.
func routeSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return -1, fmt.Errorf("routing socket: %w", err)
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

// write sends one request; the kernel answers a failed RTM_ADD or
// RTM_DELETE with the error of write(2).
func (h *darwinHost) write(typ uint8, r routing.Route) error {
	idx, err := ifIndex(r.IfIndex, r.Interface)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	m, err := routesock.FromRoute(typ, r, idx, h.seq.Add(1))
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	fd, err := routeSocket()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, b); err != nil {
		switch {
		case errors.Is(err, unix.EEXIST):
			return fmt.Errorf("route %s: %w", RouteString(r), ErrExists)
		case errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENXIO):
			return fmt.Errorf("route %s: %w", RouteString(r), ErrNotFound)
		}
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	return nil
}

func (h *darwinHost) Add(r routing.Route) error    { return h.write(routesock.TypeAdd, r) }
func (h *darwinHost) Delete(r routing.Route) error { return h.write(routesock.TypeDelete, r) }

// RouteTo asks the kernel with RTM_GET and reads the reply that carries
// this process's pid and the request's sequence number.
func (h *darwinHost) RouteTo(dst netip.Addr) (Hop, error) {
	seq := h.seq.Add(1)
	b, err := routesock.GetRequest(dst, seq).Marshal()
	if err != nil {
		return Hop{}, err
	}
	fd, err := routeSocket()
	if err != nil {
		return Hop{}, err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
		return Hop{}, fmt.Errorf("routing socket timeout: %w", err)
	}
	if _, err := unix.Write(fd, b); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENETUNREACH) {
			return Hop{}, fmt.Errorf("no route to %s: %w", dst, ErrNotFound)
		}
		return Hop{}, fmt.Errorf("route lookup %s: %w", dst, err)
	}
	buf := make([]byte, 2048)
	for range 100 {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return Hop{}, fmt.Errorf("route lookup %s: read reply: %w", dst, err)
		}
		msgs, err := routesock.Parse(buf[:n])
		if err != nil {
			continue
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Type != routesock.TypeGet || m.PID != h.pid || m.Seq != seq {
				continue
			}
			rh, err := routesock.HopFromReply(m)
			if err != nil {
				return Hop{}, fmt.Errorf("route lookup %s: %w", dst, err)
			}
			hop := Hop{Gateway: rh.Gateway, IfIndex: rh.IfIndex, Interface: rh.IfName, Src: rh.Src, Local: rh.Local || dst.IsLoopback()}
			if hop.Interface == "" && hop.IfIndex != 0 {
				hop.Interface = ifNames{}.name(hop.IfIndex)
			}
			return hop, nil
		}
	}
	return Hop{}, fmt.Errorf("route lookup %s: no reply among 100 routing messages", dst)
}

// CreateTUN creates a utun device. macOS chooses the number: a name that is
// not "utun<N>" (such as the default "cvpn%d") asks for the next free one.
func (h *darwinHost) CreateTUN(name string, mtu int) (tun.Device, string, error) {
	var n int
	if _, err := fmt.Sscanf(name, "utun%d", &n); err != nil || !strings.HasPrefix(name, "utun") || strings.Contains(name, "%") {
		name = "utun"
	}
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, "", err
	}
	actual, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, "", fmt.Errorf("TUN name: %w", err)
	}
	return dev, actual, nil
}

// ioctlBuf runs an ioctl whose argument is the buffer b (write-only
// requests: the kernel reads b).
func ioctlBuf(family int, req uint, b []byte) error {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// IoctlSetString passes a pointer to a copy of the bytes.
	return unix.IoctlSetString(fd, req, string(b))
}

// ConfigureInterface sets the MTU, adds the addresses with SIOCAIFADDR /
// SIOCAIFADDR_IN6, adds a route to each address's subnet through the
// interface (utun is point-to-point, so macOS adds none itself) and sets
// IFF_UP.
func (h *darwinHost) ConfigureInterface(name string, addrs []Address, mtu int) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return 0, fmt.Errorf("interface %s: socket: %w", name, err)
	}
	var req unix.IfreqMTU
	copy(req.Name[:], name)
	req.MTU = int32(mtu)
	err = unix.IoctlSetIfreqMTU(fd, &req)
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
	}
	for _, a := range addrs {
		var b []byte
		var family int
		var request uint
		if a.Prefix.Addr().Unmap().Is4() {
			b, err = ifalias.AliasReq4(name, a.Prefix, a.Peer)
			family, request = unix.AF_INET, ifalias.SIOCAIFADDR
		} else {
			b, err = ifalias.AliasReq6(name, a.Prefix, a.Peer)
			family, request = unix.AF_INET6, ifalias.SIOCAIFADDR_IN6
		}
		if err == nil {
			err = ioctlBuf(family, request, b)
		}
		if err != nil {
			return 0, fmt.Errorf("interface %s: address %s: %w", name, a.Prefix, err)
		}
		if !a.Prefix.IsSingleIP() {
			r := routing.Route{Dst: a.Prefix.Masked(), IfIndex: ifi.Index, Interface: name, Protocol: ProtoCVPN}
			if err := h.Add(r); err != nil && !errors.Is(err, ErrExists) {
				return 0, fmt.Errorf("interface %s: subnet route: %w", name, err)
			}
		}
	}
	b, err := ifalias.IfreqFlags(name, ifalias.FlagUp)
	if err == nil {
		err = ioctlBuf(unix.AF_INET, ifalias.SIOCSIFFLAGS, b)
	}
	if err != nil {
		return 0, fmt.Errorf("interface %s: up: %w", name, err)
	}
	return ifi.Index, nil
}

// DeleteTUN: a utun device lives as long as the file descriptor of the
// process that opened it, so after a crash it is already gone. An
// interface of that name now belongs to another process and is left alone.
func (h *darwinHost) DeleteTUN(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("interface %s: %w", name, ErrNotFound)
	}
	h.log.Info("utun interface of a previous run now belongs to another process; leaving it", "interface", name)
	return fmt.Errorf("interface %s: reused by another process: %w", name, ErrNotFound)
}
