package faultnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

// udpEchoTarget answers every datagram with the same bytes.
func udpSink(t *testing.T, echo bool) (*net.UDPConn, chan []byte) {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(loopback))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 10000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			b := append([]byte(nil), buf[:n]...)
			select {
			case got <- b:
			default:
			}
			if echo {
				pc.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc, got
}

func startUDP(t *testing.T, cfg Config) (*UDPProxy, *net.UDPConn) {
	t.Helper()
	p, err := ListenUDP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}

func seqPacket(i int) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// collect reads from ch until quiet for the given time (bounded by 10 s).
func collect(ch chan []byte, quiet time.Duration) [][]byte {
	var out [][]byte
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-ch:
			out = append(out, b)
		case <-time.After(quiet):
			return out
		case <-deadline:
			return out
		}
	}
}

func TestUDPRelayBothWays(t *testing.T) {
	target, _ := udpSink(t, true)
	_, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort()})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 50 {
		if _, err := c.Write(seqPacket(i)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], seqPacket(i)) {
			t.Fatalf("echo %d = %x", i, buf[:n])
		}
	}
}

// lossRun sends n numbered packets through a proxy with the given loss and
// returns the numbers that arrived.
func lossRun(t *testing.T, seed uint64, loss float64, n int) map[uint32]bool {
	target, got := udpSink(t, false)
	p, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort(),
		Up: Impairment{Loss: loss}, Seed: seed})
	for i := range n {
		c.Write(seqPacket(i))
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // keep loopback buffers from overflowing
		}
	}
	arrived := map[uint32]bool{}
	for _, b := range collect(got, 300*time.Millisecond) {
		arrived[binary.BigEndian.Uint32(b)] = true
	}
	st := p.Stats().Up
	if st.Received != uint64(n) || st.Lost+st.Forwarded != st.Received {
		t.Fatalf("stats %+v do not add up for %d packets", st, n)
	}
	if len(arrived) != int(st.Forwarded) {
		t.Fatalf("%d packets arrived, proxy forwarded %d", len(arrived), st.Forwarded)
	}
	return arrived
}

func TestUDPLossIsSeededAndNearTheRate(t *testing.T) {
	const n = 2000
	a := lossRun(t, 42, 0.10, n)
	b := lossRun(t, 42, 0.10, n)
	c := lossRun(t, 7, 0.10, n)
	lost := n - len(a)
	if lost < n*6/100 || lost > n*14/100 {
		t.Errorf("lost %d of %d at 10%% loss", lost, n)
	}
	same := func(x, y map[uint32]bool) bool {
		if len(x) != len(y) {
			return false
		}
		for k := range x {
			if !y[k] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed lost different packets")
	}
	if same(a, c) {
		t.Error("different seeds lost exactly the same packets")
	}
}

func TestUDPJitterReordersAndDelays(t *testing.T) {
	target, got := udpSink(t, false)
	_, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort(),
		Up: Impairment{Delay: 20 * time.Millisecond, Jitter: 30 * time.Millisecond}, Seed: 1})
	start := time.Now()
	const n = 200
	for i := range n {
		c.Write(seqPacket(i))
		time.Sleep(200 * time.Microsecond)
	}
	first := <-got
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("first packet arrived after %v, want >= the 20 ms delay", d)
	}
	all := append([][]byte{first}, collect(got, 300*time.Millisecond)...)
	if len(all) != n {
		t.Fatalf("%d of %d packets arrived without loss configured", len(all), n)
	}
	inversions := 0
	for i := 1; i < len(all); i++ {
		if binary.BigEndian.Uint32(all[i]) < binary.BigEndian.Uint32(all[i-1]) {
			inversions++
		}
	}
	if inversions == 0 {
		t.Error("30 ms jitter on packets 0.2 ms apart reordered nothing")
	}
	t.Logf("%d inversions among %d packets", inversions, n)
}

func TestUDPDuplicateAndReorder(t *testing.T) {
	target, got := udpSink(t, false)
	p, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort(),
		Up: Impairment{Duplicate: 0.5, Reorder: 0.2, ReorderGap: 5 * time.Millisecond}, Seed: 3})
	const n = 400
	for i := range n {
		c.Write(seqPacket(i))
		time.Sleep(100 * time.Microsecond)
	}
	all := collect(got, 300*time.Millisecond)
	st := p.Stats().Up
	if st.Duplicated < n/3 || st.Duplicated > n*2/3 {
		t.Errorf("duplicated %d of %d at 50%%", st.Duplicated, n)
	}
	if st.Reordered < n/10 || st.Reordered > n*3/10 {
		t.Errorf("reordered %d of %d at 20%%", st.Reordered, n)
	}
	if len(all) != n+int(st.Duplicated) {
		t.Errorf("%d datagrams arrived, want %d originals + %d duplicates", len(all), n, st.Duplicated)
	}
}

func TestUDPBlackholeOnOff(t *testing.T) {
	target, got := udpSink(t, true)
	p, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort()})
	p.SetBlackhole(true)
	for i := range 10 {
		c.Write(seqPacket(i))
	}
	if n := len(collect(got, 200*time.Millisecond)); n != 0 {
		t.Fatalf("%d packets crossed the blackhole", n)
	}
	if st := p.Stats().Up; st.Blackholed != 10 {
		t.Fatalf("blackholed = %d, want 10", st.Blackholed)
	}
	p.SetBlackhole(false)
	c.Write(seqPacket(99))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("no echo after the blackhole was switched off: %v", err)
	}
}

func TestUDPQueueIsBounded(t *testing.T) {
	target, _ := udpSink(t, false)
	p, c := startUDP(t, Config{Listen: loopback, Target: target.LocalAddr().(*net.UDPAddr).AddrPort(),
		Up: Impairment{Delay: 5 * time.Second}, MaxQueue: 10})
	for i := range 50 {
		c.Write(seqPacket(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Up.Received < 50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := p.Stats().Up; st.Overflow != 40 {
		t.Fatalf("overflow = %d, want 40 (50 packets, queue of 10): %+v", st.Overflow, st)
	}
}

func TestValidate(t *testing.T) {
	for _, im := range []Impairment{{Loss: 1.5}, {Duplicate: -0.1}, {Jitter: -time.Second}} {
		_, err := ListenUDP(context.Background(), Config{Listen: loopback, Target: netip.MustParseAddrPort("127.0.0.1:9"), Down: im})
		if err == nil || !strings.Contains(err.Error(), "direction down") {
			t.Errorf("%+v: err = %v, want a validation error naming the direction", im, err)
		}
	}
	if _, err := ListenTCP(context.Background(), Config{Listen: loopback}); err == nil || !strings.Contains(err.Error(), "Target") {
		t.Errorf("missing target: err = %v", err)
	}
}

func TestDeciderDeterministic(t *testing.T) {
	im := Impairment{Loss: 0.3, Jitter: 50 * time.Millisecond, Duplicate: 0.1, Reorder: 0.1}
	a, b := newDecider(im, 9, Up), newDecider(im, 9, Up)
	other := newDecider(im, 9, Down)
	diff := 0
	for i := range 1000 {
		x, y, z := a.decide(false), b.decide(false), other.decide(false)
		if x != y {
			t.Fatalf("decision %d differs for the same seed: %+v vs %+v", i, x, y)
		}
		if x != z {
			diff++
		}
		if !x.Drop && (x.Delay < 0 || x.Delay >= 50*time.Millisecond+im.reorderGap()) {
			t.Fatalf("delay %v out of range", x.Delay)
		}
	}
	if diff == 0 {
		t.Error("up and down directions drew identical decisions")
	}
}

// tcpSink accepts one connection and hashes what it reads.
func tcpSink(t *testing.T) (netip.AddrPort, chan [32]byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sum := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		io.Copy(h, c)
		var s [32]byte
		copy(s[:], h.Sum(nil))
		c.Write([]byte("ok"))
		sum <- s
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort(), sum
}

func TestTCPStreamIntactUnderLossAndJitter(t *testing.T) {
	target, sum := tcpSink(t)
	p, err := ListenTCP(context.Background(), Config{Listen: loopback, Target: target, Seed: 5,
		Up:   Impairment{Loss: 0.1, Delay: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, LossPenalty: 20 * time.Millisecond},
		Down: Impairment{Delay: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "ok" {
		t.Fatalf("reply %q, %v", reply, err)
	}
	if got := <-sum; got != sha256.Sum256(data) {
		t.Fatal("the target received different bytes")
	}
	st := p.Stats()
	if st.Up.Bytes != uint64(len(data)) || st.Up.Lost == 0 || st.Down.Bytes != 2 {
		t.Fatalf("stats %+v: want %d bytes up with stalls, 2 down", st, len(data))
	}
}

func TestTCPBlackholeHoldsThenReleases(t *testing.T) {
	target, sum := tcpSink(t)
	p, err := ListenTCP(context.Background(), Config{Listen: loopback, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBlackhole(true)
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	select {
	case <-sum:
		t.Fatal("bytes crossed the blackhole")
	case <-time.After(300 * time.Millisecond):
	}
	p.SetBlackhole(false)
	select {
	case s := <-sum:
		if s != sha256.Sum256([]byte("hello")) {
			t.Fatal("wrong bytes after the blackhole")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bytes held after the blackhole was switched off")
	}
}
