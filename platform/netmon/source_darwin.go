package netmon

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/net/route"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
)

// rcvBuf is the routing socket buffer asked for; an overflow makes read(2)
// fail with ENOBUFS and the loop re-reads the state.
const rcvBuf = 1 << 20

// rtReceiver is one open routing socket; reads wait in Go's poller through
// os.File, and Close wakes them.
type rtReceiver struct {
	f   *os.File
	buf []byte
}

// open opens the routing socket: RTM_IFINFO, RTM_NEWADDR, RTM_DELADDR and
// default-route RTM_ADD/DELETE/CHANGE count.
func (s *hostSource) open() (watchloop.Receiver[event], error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("netmon: routing socket: %w", err)
	}
	unix.CloseOnExec(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netmon: routing socket: %w", err)
	}
	return &rtReceiver{f: os.NewFile(uintptr(fd), "route"), buf: make([]byte, 64<<10)}, nil
}

func (r *rtReceiver) Receive() ([]event, error) {
	for {
		n, err := r.f.Read(r.buf)
		if errors.Is(err, unix.ENOBUFS) {
			return nil, fmt.Errorf("netmon: routing socket: %w", watchloop.ErrOverflow)
		}
		if err != nil {
			return nil, fmt.Errorf("netmon: routing socket: %w", err)
		}
		msgs, err := route.ParseRIB(route.RIBTypeRoute, r.buf[:n])
		if err != nil && len(msgs) == 0 {
			continue // a message this parser does not know
		}
		var out []event
		for _, m := range msgs {
			switch m := m.(type) {
			case *route.InterfaceMessage:
				out = append(out, event{kind: evLink, detail: m.Name})
			case *route.InterfaceAddrMessage:
				out = append(out, event{kind: evAddress})
			case *route.RouteMessage:
				// m.Err is not checked: x/net/route reads it at the
				// offset of rtm_use on macOS (golang/go#70593), so a real
				// change could look failed. An event only triggers a
				// re-read of the state, so a failed request's echo costs
				// one read and reports nothing.
				if isDefaultMsg(m) {
					out = append(out, event{kind: evRoute})
				}
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// isDefaultMsg reports whether m adds, deletes or changes a default route.
func isDefaultMsg(m *route.RouteMessage) bool {
	switch m.Type {
	case unix.RTM_ADD, unix.RTM_DELETE, unix.RTM_CHANGE:
	default:
		return false
	}
	if len(m.Addrs) <= unix.RTAX_DST {
		return false
	}
	switch a := m.Addrs[unix.RTAX_DST].(type) {
	case *route.Inet4Addr:
		return a.IP == [4]byte{}
	case *route.Inet6Addr:
		return a.IP == [16]byte{}
	}
	return false
}

func (r *rtReceiver) Close() error { return r.f.Close() }
