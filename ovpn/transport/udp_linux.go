package transport

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpBatchSize is how many datagrams one recvmmsg/sendmmsg moves at most.
const udpBatchSize = 64

// Limits of one UDP GSO send (UDP_SEGMENT): the kernel takes at most 64
// segments and one IP datagram's worth of payload.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

// udpBatch moves several datagrams per system call on a connected Linux
// UDP socket: recvmmsg for reading, sendmmsg for writing and, where the
// kernel allows it, UDP GSO (UDP_SEGMENT) so that a run of equal-sized
// packets leaves as one buffer that the kernel splits. Nothing is
// allocated per call: headers, iovecs and the syscall callbacks are
// created once.
type udpBatch struct {
	rc syscall.RawConn

	rmu   sync.Mutex
	rhdrs []unix.Mmsghdr
	riovs []unix.Iovec
	rn    int
	rerr  syscall.Errno
	rfn   func(fd uintptr) bool
	// rnames receives the source address of each datagram on an
	// unconnected (server) socket; nil on a connected one.
	rnames []unix.RawSockaddrInet6

	wmu   sync.Mutex
	gso   bool
	whdrs []unix.Mmsghdr
	wiovs []unix.Iovec
	woob  []byte // one UDP_SEGMENT control message per header
	wfrom int    // first header not yet sent
	wto   int    // headers filled
	wn    int
	werr  syscall.Errno
	wfn   func(fd uintptr) bool
	// wname is the destination of every header of one write on an
	// unconnected socket (nil on a connected one), wnamelen its length.
	wname    *byte
	wnamelen uint32
}

func newUDPBatch(c *net.UDPConn) (*udpBatch, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatch{
		rc:    rc,
		rhdrs: make([]unix.Mmsghdr, udpBatchSize),
		riovs: make([]unix.Iovec, udpBatchSize),
		whdrs: make([]unix.Mmsghdr, udpBatchSize),
		wiovs: make([]unix.Iovec, udpBatchSize),
		woob:  make([]byte, udpBatchSize*unix.CmsgSpace(2)),
	}
	b.rfn = b.recv
	b.wfn = b.send
	b.gso = gsoSupported(rc)
	return b, nil
}

// gsoSupported reports whether the kernel knows UDP_SEGMENT (Linux 4.18+).
func gsoSupported(rc syscall.RawConn) bool {
	var serr error
	err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	})
	return err == nil && serr == nil
}

// recv and send are raw system calls: they never block (MSG_DONTWAIT; the
// runtime's poller does the waiting), and a normal system call would wake
// the Go runtime's monitor thread after every idle moment, several context
// switches per packet at the rate an OpenVPN peer sends (see
// platform/vnettun, which does the same for the TUN device).
func (b *udpBatch) recv(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdrs[0])), uintptr(b.rn), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	b.rn, b.rerr = int(n), e
	return true
}

// readBatch receives up to len(bufs) datagrams; sizes[i] is the length of
// the one in bufs[i]. It blocks until at least one arrives.
func (b *udpBatch) readBatch(bufs [][]byte, sizes []int) (int, error) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	n := min(len(bufs), len(sizes), udpBatchSize)
	if n == 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		b.riovs[i].Base = unsafe.SliceData(bufs[i])
		b.riovs[i].SetLen(len(bufs[i]))
		h := &b.rhdrs[i].Hdr
		*h = unix.Msghdr{Iov: &b.riovs[i]}
		h.SetIovlen(1)
		if b.rnames != nil {
			h.Name = (*byte)(unsafe.Pointer(&b.rnames[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		}
		b.rhdrs[i].Len = 0
	}
	b.rn = n
	if err := b.rc.Read(b.rfn); err != nil {
		return 0, err
	}
	if b.rerr != 0 {
		return 0, b.rerr
	}
	got := b.rn
	for i := 0; i < got; i++ {
		sizes[i] = int(b.rhdrs[i].Len)
		if b.rhdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			sizes[i] = 0 // truncated: larger than the buffer, drop it
		}
	}
	return got, nil
}

func (b *udpBatch) send(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.whdrs[b.wfrom])), uintptr(b.wto-b.wfrom), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	b.wn, b.werr = int(n), e
	return true
}

// writeBatch sends pkts as separate datagrams, in order.
func (b *udpBatch) writeBatch(pkts [][]byte) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.writeLocked(pkts)
}

// writeLocked is writeBatch with wmu held.
func (b *udpBatch) writeLocked(pkts [][]byte) error {
	for len(pkts) > 0 {
		used, err := b.writeSome(pkts, b.gso)
		if err != nil && b.gso {
			// The path cannot take UDP GSO: EIO when the device has no
			// checksum offload, EINVAL/EMSGSIZE when a segment does not
			// fit the route's MTU. Send this and every later batch as
			// plain datagrams.
			if used, err = b.writeSome(pkts, false); err == nil {
				b.gso = false
			}
		}
		if err != nil {
			return err
		}
		pkts = pkts[used:]
	}
	return nil
}

// writeSome sends as many of pkts as fit into one sendmmsg call and returns
// how many it sent.
func (b *udpBatch) writeSome(pkts [][]byte, gso bool) (int, error) {
	nh, ni, used := 0, 0, 0
	cs := unix.CmsgSpace(2)
	for used < len(pkts) && nh < len(b.whdrs) && ni < len(b.wiovs) {
		first := ni
		size := len(pkts[used])
		total := 0
		for used < len(pkts) && ni < len(b.wiovs) {
			p := pkts[used]
			if ni > first && (!gso || len(p) > size || ni-first >= gsoMaxSegments || total+len(p) > gsoMaxBytes) {
				break
			}
			b.wiovs[ni].Base = unsafe.SliceData(p)
			b.wiovs[ni].SetLen(len(p))
			ni++
			used++
			total += len(p)
			if len(p) < size {
				break // a shorter packet ends a GSO run
			}
		}
		h := &b.whdrs[nh].Hdr
		*h = unix.Msghdr{Iov: &b.wiovs[first], Name: b.wname, Namelen: b.wnamelen}
		h.SetIovlen(ni - first)
		if ni-first > 1 {
			oob := b.woob[nh*cs : (nh+1)*cs]
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			cm.Level = unix.IPPROTO_UDP
			cm.Type = unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(size)
			h.Control = &oob[0]
			h.SetControllen(cs)
		}
		nh++
	}
	b.wfrom, b.wto = 0, nh
	for b.wfrom < b.wto {
		if err := b.rc.Write(b.wfn); err != nil {
			return 0, err
		}
		if b.werr != 0 {
			return 0, fmt.Errorf("sendmmsg: %w", b.werr)
		}
		b.wfrom += b.wn
	}
	return used, nil
}
