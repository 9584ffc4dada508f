package transport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxPacket is the largest OpenVPN packet either transport accepts.
const MaxPacket = 65535

// Conn moves whole OpenVPN packets. ReadPacket fills buf and returns the
// packet length; the packet is only valid until the next ReadPacket.
// WritePacket may be called from one goroutine while another reads.
type Conn interface {
	ReadPacket(buf []byte) (int, error)
	WritePacket(pkt []byte) error
	// ReadBatch reads at least one and up to len(bufs) packets, blocking
	// until the first arrives; sizes[i] is the length of the packet in
	// bufs[i] (0 for a datagram too large for its buffer, which is
	// dropped). It is for the one reading goroutine, like ReadPacket.
	ReadBatch(bufs [][]byte, sizes []int) (int, error)
	// WriteBatch sends pkts in order with as few system calls as the
	// transport allows (sendmmsg and UDP GSO, one write for a stream).
	WriteBatch(pkts [][]byte) error
	// Reliable reports whether the transport itself is reliable (TCP).
	Reliable() bool
	LocalAddr() net.Addr
	RemoteAddr() netip.AddrPort
	Close() error
}

// Proto is a transport protocol of a remote.
type Proto string

// Transport protocols.
const (
	UDP Proto = "udp"
	TCP Proto = "tcp"
)

// Dialer opens transports. The zero value is usable.
type Dialer struct {
	// Control, when set, is called on each socket before it connects (as
	// net.Dialer.Control); cvpn marks its own sockets with it while
	// traffic outside the tunnel is blocked.
	Control func(network, address string, c syscall.RawConn) error
}

// Dial connects to addr with proto. For UDP the socket is connected so only
// packets from the server are received.
func (d *Dialer) Dial(ctx context.Context, proto Proto, addr netip.AddrPort) (Conn, error) {
	nd := net.Dialer{Control: d.Control}
	switch proto {
	case UDP:
		c, err := nd.DialContext(ctx, "udp", addr.String())
		if err != nil {
			return nil, fmt.Errorf("udp %s: %w", addr, err)
		}
		uc := c.(*net.UDPConn)
		_ = uc.SetReadBuffer(4 << 20)
		_ = uc.SetWriteBuffer(4 << 20)
		b, err := newUDPBatch(uc)
		if err != nil {
			uc.Close()
			return nil, fmt.Errorf("udp %s: %w", addr, err)
		}
		return &udpConn{c: uc, remote: addr, b: b}, nil
	case TCP:
		c, err := nd.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return nil, fmt.Errorf("tcp %s: %w", addr, err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		return NewStream(c, addr), nil
	default:
		return nil, fmt.Errorf("transport: unknown protocol %q (want udp or tcp)", proto)
	}
}

type udpConn struct {
	c      *net.UDPConn
	remote netip.AddrPort
	b      *udpBatch
}

func (u *udpConn) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return u.b.readBatch(bufs, sizes)
}

func (u *udpConn) WriteBatch(pkts [][]byte) error { return u.b.writeBatch(pkts) }

func (u *udpConn) ReadPacket(buf []byte) (int, error) { return u.c.Read(buf) }
func (u *udpConn) WritePacket(p []byte) error {
	_, err := u.c.Write(p)
	return err
}
func (u *udpConn) Reliable() bool             { return false }
func (u *udpConn) LocalAddr() net.Addr        { return u.c.LocalAddr() }
func (u *udpConn) RemoteAddr() netip.AddrPort { return u.remote }
func (u *udpConn) Close() error               { return u.c.Close() }

// UDPConn returns the underlying socket of a UDP transport, or nil.
func UDPConn(c Conn) *net.UDPConn {
	if u, ok := c.(*udpConn); ok {
		return u.c
	}
	return nil
}

// Stream frames OpenVPN packets on a byte stream (TCP).
type Stream struct {
	c      net.Conn
	r      *bufio.Reader
	w      io.Writer // c, or on Linux raw system calls on c's socket
	remote netip.AddrPort
	wmu    sync.Mutex
	wbuf   []byte
}

// NewStream wraps a connected stream socket.
func NewStream(c net.Conn, remote netip.AddrPort) *Stream {
	r, w := streamIO(c)
	return &Stream{c: c, r: bufio.NewReaderSize(r, 64<<10), w: w, remote: remote}
}

// ReadPacket reads one length-prefixed packet.
func (s *Stream) ReadPacket(buf []byte) (int, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return 0, fmt.Errorf("tcp %s: zero-length packet", s.remote)
	}
	if n > len(buf) {
		return 0, fmt.Errorf("tcp %s: packet of %d bytes exceeds buffer of %d", s.remote, n, len(buf))
	}
	if _, err := io.ReadFull(s.r, buf[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return n, nil
}

// WritePacket writes one packet with its length prefix in a single write.
func (s *Stream) WritePacket(p []byte) error {
	if len(p) == 0 || len(p) > MaxPacket {
		return fmt.Errorf("tcp %s: cannot send a packet of %d bytes", s.remote, len(p))
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = binary.BigEndian.AppendUint16(s.wbuf[:0], uint16(len(p)))
	s.wbuf = append(s.wbuf, p...)
	_, err := s.w.Write(s.wbuf)
	return err
}

// ReadBatch reads one packet, waiting for it, and then every further
// complete packet already buffered, up to len(bufs).
func (s *Stream) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n := min(len(bufs), len(sizes))
	if n == 0 {
		return 0, nil
	}
	m, err := s.ReadPacket(bufs[0])
	if err != nil {
		return 0, err
	}
	sizes[0] = m
	i := 1
	for ; i < n && s.r.Buffered() >= 2; i++ {
		hdr, _ := s.r.Peek(2)
		l := int(binary.BigEndian.Uint16(hdr))
		if l == 0 || l > len(bufs[i]) || s.r.Buffered() < 2+l {
			break // ReadPacket reports a bad length on the next call
		}
		if m, err = s.ReadPacket(bufs[i]); err != nil {
			return 0, err
		}
		sizes[i] = m
	}
	return i, nil
}

// WriteBatch frames pkts and sends them with one write.
func (s *Stream) WriteBatch(pkts [][]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = s.wbuf[:0]
	for _, p := range pkts {
		if len(p) == 0 || len(p) > MaxPacket {
			return fmt.Errorf("tcp %s: cannot send a packet of %d bytes", s.remote, len(p))
		}
		s.wbuf = binary.BigEndian.AppendUint16(s.wbuf, uint16(len(p)))
		s.wbuf = append(s.wbuf, p...)
	}
	if len(s.wbuf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.wbuf)
	return err
}

// Reliable is true for streams.
func (s *Stream) Reliable() bool { return true }

// LocalAddr is the local socket address.
func (s *Stream) LocalAddr() net.Addr { return s.c.LocalAddr() }

// RemoteAddr is the peer address.
func (s *Stream) RemoteAddr() netip.AddrPort { return s.remote }

// Close closes the socket.
func (s *Stream) Close() error { return s.c.Close() }

// Resolver looks up host names. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// RandomHostname returns host with a random 12-hex-digit label in front, as
// remote-random-hostname asks, so that DNS answers are never cached. IP
// literals are returned unchanged.
func RandomHostname(host string, random io.Reader) (string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	if random == nil {
		random = rand.Reader
	}
	var b [6]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]) + "." + strings.TrimSuffix(host, "."), nil
}

// Resolve returns the addresses of host (an IP literal or a name), IPv4 first.
// With randomHost, a random label is prepended before the lookup.
func Resolve(ctx context.Context, r Resolver, host string, randomHost bool, timeout time.Duration) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	name := host
	if randomHost {
		var err error
		if name, err = RandomHostname(host, nil); err != nil {
			return nil, err
		}
	}
	if r == nil {
		r = net.DefaultResolver
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	out := append(v4, v6...)
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", name)
	}
	return out, nil
}

// NewUDPConn wraps a connected UDP socket (one made by net.DialUDP) as a
// Conn with batched I/O; remote is the address it is connected to.
func NewUDPConn(c *net.UDPConn, remote netip.AddrPort) (Conn, error) {
	b, err := newUDPBatch(c)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", remote, err)
	}
	return &udpConn{c: c, remote: remote, b: b}, nil
}
