package client

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/mssfix"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// tunOffset is the headroom kept in front of packets for the TUN device's
// virtio header (Linux).
const tunOffset = 16

// Stats are the traffic counters of a connection.
type Stats struct {
	BytesIn, BytesOut     atomic.Uint64
	PacketsIn, PacketsOut atomic.Uint64
}

// rxBatch is how many packets the receive side takes from the socket and
// hands to the TUN device at once.
const rxBatch = 64

// slotSize is the size of one packet buffer: headroom plus the largest
// packet, so that the TUN device can coalesce (GRO) into it.
const slotSize = tunOffset + 65536

// dataPath moves packets between the TUN device and the link, a batch at a
// time in both directions: a TUN read (split by GSO) is sealed and sent
// with one WriteBatch; the packets of one socket ReadBatch are opened and
// written to the TUN device with one Write (coalesced by GRO). Buffers are
// allocated once; nothing is allocated per packet.
type dataPath struct {
	l    *link
	dev  tun.Device
	comp datachannel.Compression
	// mss holds the TCP MSS clamps, IPv4 << 16 | IPv6 (0: none); a
	// PUSH_UPDATE of tun-mtu changes it while packets flow.
	mss   atomic.Uint32
	stats *Stats

	// Receive side, used only by the link's read goroutine.
	rx      [][]byte // slots the opened packets are written into
	rxBufs  [][]byte // the filled part of each slot, passed to the device
	rxBytes uint64
	rxFresh bool // an authenticated packet arrived in this batch

	// sendErr reports a send that failed because the local address or
	// route is gone (netchange.go); the supervisor moves the link.
	sendErr chan error
}

func compressionOf(p *profile.Profile) datachannel.Compression {
	switch p.Compression {
	case profile.CompressionLZONo:
		return datachannel.CompressLZONo
	case profile.CompressionStub:
		return datachannel.CompressStub
	case profile.CompressionStubV2:
		return datachannel.CompressStubV2
	}
	return datachannel.CompressNone
}

func newDataPath(l *link, dev tun.Device, stats *Stats, tunMTU int) *dataPath {
	d := &dataPath{l: l, dev: dev, comp: compressionOf(l.prof), stats: stats,
		rx: make([][]byte, rxBatch), rxBufs: make([][]byte, 0, rxBatch), sendErr: make(chan error, 1)}
	// The receive slots (64 x 64 KiB) are allocated as batches first fill
	// them, not here: 4 MiB at once started a garbage collection that
	// delayed the "connected" state by about 2.5 ms.
	d.setMTU(tunMTU)
	return d
}

// setMTU sets the MSS clamps for the tunnel's MTU (profile or pushed
// tun-mtu).
func (d *dataPath) setMTU(tunMTU int) {
	l := d.l
	m := l.prof.MSSFix
	if m <= 0 {
		return
	}
	over := d.comp.MaxOverhead()
	if dk := l.keys.Primary(); dk != nil {
		over += dk.Overhead(0)
	}
	mode := l.prof.MSSFixMode
	if l.prof.MSSFixDefault {
		m, mode = mssfix.DefaultFor(tunMTU)
	}
	v4, v6 := mssfix.Targets(m, mode, over, l.conn.Reliable(), l.conn.RemoteAddr().Addr().Is6())
	d.mss.Store(uint32(v4)<<16 | uint32(v6))
}

// fromNetwork handles one data packet from the server; it runs on the
// link's read goroutine. The link calls it with nil at the end of each
// batch read from the socket, which writes the batch to the TUN device.
func (d *dataPath) fromNetwork(pkt []byte) {
	if pkt == nil {
		d.flush()
		return
	}
	slot := d.rx[len(d.rxBufs)]
	if slot == nil {
		slot = make([]byte, slotSize)
		d.rx[len(d.rxBufs)] = slot
	}
	out, _, err := d.l.keys.Open(slot[:tunOffset], pkt)
	if err != nil {
		d.l.log.Debug("dropped data packet", "err", err)
		return
	}
	d.rxFresh = true
	payload := out[tunOffset:]
	if d.comp != datachannel.CompressNone {
		p, err := d.comp.Unframe(payload)
		if err != nil {
			d.l.log.Debug("dropped data packet", "err", err)
			return
		}
		// Unframe may return a sub-slice or a rearranged copy in place.
		n := copy(slot[tunOffset:], p)
		payload = slot[tunOffset : tunOffset+n]
	}
	if datachannel.IsPing(payload) {
		return
	}
	if datachannel.IsOCCExit(payload) {
		d.l.failWith(fmt.Errorf("%s: the server closed the connection (exit notification)", d.l.peer))
		return
	}
	if len(payload) == 0 || (payload[0]>>4 != 4 && payload[0]>>4 != 6) {
		return
	}
	d.clamp(payload)
	d.rxBytes += uint64(len(payload))
	d.rxBufs = append(d.rxBufs, slot[:tunOffset+len(payload)])
	if len(d.rxBufs) == len(d.rx) {
		d.flush()
	}
}

// flush writes the packets opened so far to the TUN device.
func (d *dataPath) flush() {
	if d.rxFresh {
		d.l.lastRecv.Store(d.l.cfg.now().UnixNano())
		d.rxFresh = false
	}
	if len(d.rxBufs) == 0 {
		return
	}
	d.stats.BytesIn.Add(d.rxBytes)
	d.stats.PacketsIn.Add(uint64(len(d.rxBufs)))
	if _, err := d.dev.Write(d.rxBufs, tunOffset); err != nil && !errors.Is(err, os.ErrClosed) {
		d.l.log.Debug("TUN write failed", "err", err)
	}
	clear(d.rxBufs)
	d.rxBufs = d.rxBufs[:0]
	d.rxBytes = 0
}

func (d *dataPath) clamp(pkt []byte) {
	mss := d.mss.Load()
	if pkt[0]>>4 == 4 {
		mssfix.Clamp(pkt, uint16(mss>>16))
	} else {
		mssfix.Clamp(pkt, uint16(mss))
	}
}

// fromTUN reads packets from the TUN device and sends them to the server
// until the device is closed or the link ends.
func (d *dataPath) fromTUN() error {
	batch := max(d.dev.BatchSize(), 1)
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	sealed := make([][]byte, batch) // seal buffers, one per packet
	for i := range bufs {
		bufs[i] = make([]byte, slotSize)
		sealed[i] = make([]byte, 0, 65536+256)
	}
	out := make([][]byte, 0, batch)
	cbuf := make([]byte, 0, 65536+8)
	for {
		n, err := d.dev.Read(bufs, sizes, tunOffset)
		out = out[:0]
		var bytes uint64
		for i := 0; i < n; i++ {
			pkt := bufs[i][tunOffset : tunOffset+sizes[i]]
			if len(pkt) == 0 {
				continue
			}
			d.clamp(pkt)
			plain := pkt
			if d.comp != datachannel.CompressNone {
				cbuf = d.comp.Frame(cbuf[:0], pkt)
				plain = cbuf
			}
			s, serr := d.l.keys.Seal(sealed[i][:0], plain)
			if serr != nil {
				if errors.Is(serr, datachannel.ErrPacketIDExhausted) {
					d.l.renegotiateNow()
				}
				continue
			}
			out = append(out, s)
			bytes += uint64(len(pkt))
		}
		if len(out) > 0 {
			d.l.lastSend.Store(d.l.cfg.now().UnixNano())
			if werr := d.l.conn.WriteBatch(out); werr != nil {
				if d.l.ctx.Err() != nil {
					return nil
				}
				d.l.log.Debug("send failed", "err", werr)
				d.noteSendError(werr)
			} else {
				d.stats.BytesOut.Add(bytes)
				d.stats.PacketsOut.Add(uint64(len(out)))
			}
			clear(out)
		}
		if err != nil {
			if errors.Is(err, tun.ErrTooManySegments) {
				continue
			}
			if d.l.ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading from the tunnel device: %w", err)
		}
	}
}

// sendPing sends a keepalive ping through the data channel.
func (d *dataPath) sendPing() {
	var buf [64]byte
	plain := datachannel.AppendPing(buf[:0])
	if d.comp != datachannel.CompressNone {
		var cb [64]byte
		plain = d.comp.Frame(cb[:0], plain)
	}
	out, err := d.l.keys.Seal(make([]byte, 0, 128), plain)
	if err == nil {
		d.noteSendError(d.l.send(out))
	}
}

// sendExitNotify tells the server over UDP that the client is leaving,
// with the OCC exit message (when the control channel EXIT is not used).
func (d *dataPath) sendExitNotify(times int) {
	var buf [64]byte
	plain := datachannel.AppendOCCExit(buf[:0])
	if d.comp != datachannel.CompressNone {
		var cb [64]byte
		plain = d.comp.Frame(cb[:0], plain)
	}
	for i := 0; i < times; i++ {
		out, err := d.l.keys.Seal(make([]byte, 0, 128), plain)
		if err == nil {
			_ = d.l.send(out)
		}
		if i+1 < times {
			time.Sleep(50 * time.Millisecond)
		}
	}
}
