package vnettun

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// peer plays the far end of a TCP connection behind a real TUN device in a
// test namespace: the kernel's TCP stack in the namespace is the other end.
type peer struct {
	t    *testing.T
	f    family
	dev  *Device
	pkts chan []byte // packets read from the device, one per element
}

// family is the address family a test connection uses.
type family struct {
	v6            bool
	local, remote netip.Addr // the namespace's address on the device; the peer's
	prefix        string     // local address with prefix length, for ip addr add
}

var (
	fam4 = family{local: netip.MustParseAddr("10.77.0.1"), remote: netip.MustParseAddr("10.77.0.2"), prefix: "10.77.0.1/24"}
	fam6 = family{v6: true, local: netip.MustParseAddr("fd77::1"), remote: netip.MustParseAddr("fd77::2"), prefix: "fd77::1/64"}
)

const peerPort = 4000

// segment builds a TCP segment from peer to the namespace with correct
// checksums (and for IPv4 the DF bit).
func (f family) segment(dport uint16, id uint16, seq, ack uint32, flags byte, opts, payload []byte) []byte {
	hl := 20
	if f.v6 {
		hl = 40
	}
	p := make([]byte, hl+20+len(opts)+len(payload))
	src, dst := f.remote.AsSlice(), f.local.AsSlice()
	if f.v6 {
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
		p[6], p[7] = protoTCP, 64
		copy(p[8:], src)
		copy(p[24:], dst)
	} else {
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		binary.BigEndian.PutUint16(p[4:], id)
		p[6] = 0x40
		p[8], p[9] = 64, protoTCP
		copy(p[12:], src)
		copy(p[16:], dst)
		ipv4Checksum(p[:20])
	}
	th := p[hl:]
	binary.BigEndian.PutUint16(th[0:], peerPort)
	binary.BigEndian.PutUint16(th[2:], dport)
	binary.BigEndian.PutUint32(th[4:], seq)
	binary.BigEndian.PutUint32(th[8:], ack)
	th[12] = byte((20 + len(opts)) / 4 << 4)
	th[13] = flags
	binary.BigEndian.PutUint16(th[14:], 65535)
	copy(th[20:], opts)
	copy(th[20+len(opts):], payload)
	binary.BigEndian.PutUint16(th[16:], ^fold(sum(th, pseudoSum(src, dst, protoTCP, len(th)))))
	return p
}

// write hands pkts to the device in one Write, each in its own 64 KiB slot.
func (p *peer) write(pkts ...[]byte) {
	p.t.Helper()
	if _, err := p.dev.Write(slots(16, pkts...), 16); err != nil {
		p.t.Fatalf("device write: %v", err)
	}
}

// next returns the next TCP segment from the namespace to peer: its IP
// header length and the segment.
func (p *peer) next() (int, []byte) {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case pkt, ok := <-p.pkts:
			if !ok {
				p.t.Fatal("device closed")
			}
			ip, err := parseIP(pkt)
			if err != nil || ip.v6 != p.f.v6 || ip.proto != protoTCP || len(pkt) < ip.hlen+20 {
				continue
			}
			if bytes.Equal(ip.dst, p.f.remote.AsSlice()) && binary.BigEndian.Uint16(pkt[ip.hlen+2:]) == peerPort {
				return ip.hlen, pkt
			}
		case <-deadline:
			p.t.Fatal("no TCP segment from the namespace within 10 s")
		}
	}
}

// TestDeviceCarriesTCPBothWays runs a real TCP connection of the kernel
// through the device: what the kernel sends as 64 KiB super-packets must
// come out of Read as valid segments of at most the MSS, in order, and
// segments written in one batch must be merged and still reach the
// application intact.
func TestDeviceCarriesTCPBothWays(t *testing.T) {
	for _, f := range []family{fam4, fam6} {
		name := "IPv4"
		if f.v6 {
			name = "IPv6"
		}
		t.Run(name, func(t *testing.T) { testDeviceTCP(t, f) })
	}
}

func testDeviceTCP(t *testing.T, f family) {
	lab := nstest.New(t, nstest.Options{})
	ns := lab.Client
	var dev tun.Device
	if err := nstest.InNS(ns, func() (err error) { dev, err = Create("cvt%d", 1500); return err }); err != nil {
		t.Fatal(err)
	}
	d, ok := dev.(*Device)
	if !ok {
		dev.Close()
		t.Fatal("the kernel gave the TUN device no virtio-net header (IFF_VNET_HDR)")
	}
	pkts := make(chan []byte, 1024)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // stops when the device is closed or the test stops it
		defer close(readerDone)
		defer close(pkts)
		bufs := make([][]byte, d.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, 16+65536)
		}
		sizes := make([]int, len(bufs))
		for {
			n, err := d.Read(bufs, sizes, 16)
			for i := 0; i < n; i++ {
				select {
				case pkts <- bytes.Clone(bufs[i][16 : 16+sizes[i]]):
				case <-stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); d.Close(); <-readerDone }()
	name, err := d.Name()
	if err != nil {
		t.Fatal(err)
	}
	nstest.MustRun(t, ns, "ip", "addr", "add", f.prefix, "dev", name, "nodad")
	nstest.MustRun(t, ns, "ip", "link", "set", name, "up")

	p := &peer{t: t, f: f, dev: d, pkts: pkts}
	conns := make(chan net.Conn, 1)
	go func() {
		var c net.Conn
		err := nstest.InNS(ns, func() (err error) {
			c, err = net.DialTimeout("tcp", netip.AddrPortFrom(f.remote, peerPort).String(), 10*time.Second)
			return err
		})
		if err != nil {
			t.Errorf("dial through the device: %v", err)
		}
		conns <- c
	}()
	hl, syn := p.next()
	if syn[hl+13]&tcpSYN == 0 {
		t.Fatalf("first segment has flags %#x, want SYN", syn[hl+13])
	}
	cport := binary.BigEndian.Uint16(syn[hl:])
	cseq := binary.BigEndian.Uint32(syn[hl+4:]) + 1
	pseq := uint32(7000)
	const mss = 1360
	p.write(f.segment(cport, 1, pseq, cseq, tcpSYN|tcpACK, []byte{2, 4, mss >> 8, mss & 0xff}, nil))
	pseq++
	conn := <-conns
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()

	// The namespace sends 256 KiB: the kernel hands the device super-packets.
	sent := make([]byte, 256<<10)
	for i := range sent {
		sent[i] = byte(i*31 + i>>9)
	}
	wrote := make(chan error, 1)
	go func() { _, err := conn.Write(sent); wrote <- err }()
	var got []byte
	for len(got) < len(sent) {
		hl, seg := p.next()
		th := seg[hl:]
		src, dst := f.local.AsSlice(), f.remote.AsSlice()
		if fold(sum(th, pseudoSum(src, dst, protoTCP, len(th)))) != 0xffff || !f.v6 && fold(sum(seg[:20], 0)) != 0xffff {
			t.Fatalf("segment at byte %d has a bad checksum", len(got))
		}
		payload := th[int(th[12]>>4)*4:]
		if len(payload) == 0 {
			continue
		}
		if len(payload) > mss {
			t.Fatalf("segment of %d bytes, larger than the MSS %d", len(payload), mss)
		}
		if seq := binary.BigEndian.Uint32(th[4:]); seq != cseq+uint32(len(got)) {
			t.Fatalf("segment with seq %d, want %d", seq, cseq+uint32(len(got)))
		}
		got = append(got, payload...)
		p.write(f.segment(cport, 2, pseq, cseq+uint32(len(got)), tcpACK, nil, nil))
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("the bytes read from the device differ from what the application sent")
	}
	if d.supers.Load() == 0 {
		t.Error("the kernel sent no super-packet: the offload path was not exercised")
	}
	if d.Dropped() != 0 {
		t.Errorf("%d packets dropped", d.Dropped())
	}

	// Peer sends 40 segments of 1,000 bytes in one write: they are merged
	// and the application reads them intact.
	var batch [][]byte
	var want []byte
	ack := cseq + uint32(len(got))
	for i := 0; i < 40; i++ {
		pl := bytes.Repeat([]byte{byte(i + 1)}, 1000)
		flags := byte(tcpACK)
		if i == 39 {
			flags |= tcpPSH
		}
		batch = append(batch, f.segment(cport, uint16(100+i), pseq, ack, flags, nil, pl))
		pseq += 1000
		want = append(want, pl...)
	}
	merged := d.merged.Load()
	p.write(batch...)
	if m := d.merged.Load() - merged; m != 39 {
		t.Errorf("%d of 40 consecutive segments merged into the first, want 39", m)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("application read: %v", err)
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("the application read different bytes than the merged segments held")
	}
}
