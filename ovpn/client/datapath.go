package client

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/ovpn/datachannel"
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

// dataPath moves packets between the TUN device and the link.
type dataPath struct {
	l     *link
	dev   tun.Device
	comp  datachannel.Compression
	mss4  uint16
	mss6  uint16
	stats *Stats
	wbuf  []byte // receive side scratch, used only by the link's read goroutine
	wbufs [][]byte
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

func newDataPath(l *link, dev tun.Device, stats *Stats) *dataPath {
	d := &dataPath{l: l, dev: dev, comp: compressionOf(l.prof), stats: stats,
		wbuf: make([]byte, tunOffset+65536), wbufs: make([][]byte, 1)}
	if m := l.prof.MSSFix; m > 0 {
		dk := l.keys.Primary()
		over := 0
		if dk != nil {
			over = dk.Overhead(0)
		}
		over += d.comp.MaxOverhead()
		if l.prof.MSSFixMode == "mtu" {
			over += 28 // outer IPv4 + UDP
			if l.conn.Reliable() {
				over += 12 + 2 // TCP header difference + length prefix
			}
		}
		if v := m - over - 40; v > 0 {
			d.mss4 = uint16(v)
		}
		if v := m - over - 60; v > 0 {
			d.mss6 = uint16(v)
		}
	}
	return d
}

// fromNetwork handles one data packet from the server; it runs on the
// link's read goroutine.
func (d *dataPath) fromNetwork(pkt []byte) {
	out, _, err := d.l.keys.Open(d.wbuf[:tunOffset], pkt)
	if err != nil {
		d.l.log.Debug("dropped data packet", "err", err)
		return
	}
	d.l.lastRecv.Store(d.l.cfg.now().UnixNano())
	payload := out[tunOffset:]
	if d.comp != datachannel.CompressNone {
		p, err := d.comp.Unframe(payload)
		if err != nil {
			d.l.log.Debug("dropped data packet", "err", err)
			return
		}
		// Unframe may return a sub-slice or a rearranged copy in place.
		n := copy(d.wbuf[tunOffset:], p)
		payload = d.wbuf[tunOffset : tunOffset+n]
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
	d.stats.BytesIn.Add(uint64(len(payload)))
	d.stats.PacketsIn.Add(1)
	d.wbufs[0] = d.wbuf[:tunOffset+len(payload)]
	if _, err := d.dev.Write(d.wbufs, tunOffset); err != nil && !errors.Is(err, os.ErrClosed) {
		d.l.log.Debug("TUN write failed", "err", err)
	}
}

func (d *dataPath) clamp(pkt []byte) {
	if pkt[0]>>4 == 4 {
		clampMSS(pkt, d.mss4)
	} else {
		clampMSS(pkt, d.mss6)
	}
}

// fromTUN reads packets from the TUN device and sends them to the server
// until the device is closed or the link ends.
func (d *dataPath) fromTUN() error {
	batch := d.dev.BatchSize()
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, tunOffset+65536)
	}
	sbuf := make([]byte, 0, 65536+256)
	cbuf := make([]byte, 0, 65536+8)
	for {
		n, err := d.dev.Read(bufs, sizes, tunOffset)
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
			out, err := d.l.keys.Seal(sbuf[:0], plain)
			if err != nil {
				if errors.Is(err, datachannel.ErrPacketIDExhausted) {
					d.l.renegotiateNow()
				}
				continue
			}
			if err := d.l.send(out); err != nil {
				if d.l.ctx.Err() != nil {
					return nil
				}
				d.l.log.Debug("send failed", "err", err)
				continue
			}
			d.stats.BytesOut.Add(uint64(len(pkt)))
			d.stats.PacketsOut.Add(1)
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
		_ = d.l.send(out)
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
