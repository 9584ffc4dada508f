package vnettun

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// Device is a Linux TUN device whose Read and Write are raw system calls
// with offloads handled here. Name, MTU, events, File and Close are those
// of the wireguard-go device it wraps.
type Device struct {
	tun.Device
	rc syscall.RawConn

	rmu  sync.Mutex
	rbuf []byte // one read: virtio-net header and up to 64 KiB of packet
	sp   superPacket
	more bool // sp has segments not yet returned

	wmu sync.Mutex
	gro coalescer

	dropped atomic.Uint64
	supers  atomic.Uint64 // super-packets read (split here)
	merged  atomic.Uint64 // packets merged into an earlier one on write
}

// Create creates the TUN device name (a pattern like "tun%d" is allowed)
// with the given MTU. If the kernel does not give the device a virtio-net
// header, Create returns wireguard-go's device unchanged.
func Create(name string, mtu int) (tun.Device, error) {
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, err
	}
	if dev.BatchSize() == 1 { // wireguard-go saw no IFF_VNET_HDR
		return dev, nil
	}
	rc, err := dev.File().SyscallConn()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("TUN device %s: %w", name, err)
	}
	return &Device{Device: dev, rc: rc, rbuf: make([]byte, HeaderLen+maxSuper)}, nil
}

// Dropped is the number of packets read from the device that could not be
// used (a malformed super-packet, or a segment larger than the buffer it
// was to go into).
func (d *Device) Dropped() uint64 { return d.dropped.Load() }

// Read reads packets into bufs[i][offset:], setting sizes[i], and returns
// how many it read. It waits until at least one is available; a
// super-packet is split into segments, which may continue into the next
// call if bufs is full.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	n := d.drain(bufs, sizes, offset, 0)
	if n > 0 {
		return n, nil
	}
	var rerr error
	err := d.rc.Read(func(fd uintptr) bool {
		for n < len(bufs) {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&d.rbuf[0])), uintptr(len(d.rbuf)))
			switch e {
			case 0:
			case unix.EAGAIN:
				return n > 0 // nothing read yet: wait for the device
			case unix.EINTR:
				continue
			default:
				rerr = e
				return true
			}
			if err := d.sp.reset(d.rbuf[:r]); err != nil {
				d.dropped.Add(1)
				continue
			}
			d.more = true
			if d.sp.segs > 1 {
				d.supers.Add(1)
			}
			n = d.drain(bufs, sizes, offset, n)
		}
		return true
	})
	if err != nil {
		return n, err
	}
	if rerr != nil {
		return n, &os.PathError{Op: "read", Path: d.name(), Err: rerr}
	}
	return n, nil
}

// drain moves the segments of the current super-packet into bufs from
// index n on and returns the new count.
func (d *Device) drain(bufs [][]byte, sizes []int, offset, n int) int {
	for d.more && n < len(bufs) {
		l, err := d.sp.next(bufs[n][offset:])
		if err != nil {
			d.dropped.Add(uint64(d.sp.segs - d.sp.seg))
			d.more = false
			break
		}
		sizes[n] = l
		n++
		d.more = !d.sp.done()
	}
	return n
}

// Write writes the packets bufs[i][offset:], merging consecutive segments
// of a TCP stream; offset must leave room for the virtio-net header
// (HeaderLen bytes), and a buffer's capacity is what a merge may grow it
// to. It returns len(bufs) and the first error, after trying every packet:
// a packet the kernel refuses does not stop the others.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	frames, err := d.gro.coalesce(bufs, offset)
	if err != nil {
		return 0, err
	}
	if m := len(bufs) - len(frames); m > 0 {
		d.merged.Add(uint64(m))
	}
	var first error
	i := 0
	err = d.rc.Write(func(fd uintptr) bool {
		for i < len(frames) {
			f := frames[i]
			_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&f[0])), uintptr(len(f)))
			switch e {
			case 0:
			case unix.EAGAIN:
				return false // the device's queue is full: wait
			case unix.EINTR:
				continue
			default:
				if first == nil {
					first = e
				}
			}
			i++
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if first != nil {
		return len(bufs), &os.PathError{Op: "write", Path: d.name(), Err: first}
	}
	return len(bufs), nil
}

// name is the device's name for error messages.
func (d *Device) name() string {
	n, err := d.Device.Name()
	if err != nil {
		return "TUN device"
	}
	return n
}
