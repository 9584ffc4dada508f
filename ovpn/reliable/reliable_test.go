package reliable

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

var t0 = time.Unix(1700000000, 0)

func ids(ps []Packet) []uint32 {
	var out []uint32
	for _, p := range ps {
		out = append(out, p.PacketID)
	}
	return out
}

func eq(a, b []uint32) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestSendWindowAndRetransmit(t *testing.T) {
	r := New(Config{})
	for i := 0; i < 8; i++ {
		r.Send(wire.OpControlV1, []byte{byte(i)})
	}
	got := r.Pending(t0, nil)
	if !eq(ids(got), []uint32{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("first flight %v, want ids 0..5 (send window 6)", ids(got))
	}
	if got := r.Pending(t0.Add(time.Second), nil); len(got) != 0 {
		t.Fatalf("resent %v before the 2 s timeout", ids(got))
	}
	if next, ok := r.NextTimeout(); !ok || !next.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("NextTimeout %v %v, want t0+2s", next, ok)
	}
	if got := r.Pending(t0.Add(2*time.Second), nil); len(got) != 6 {
		t.Fatalf("resent %d packets at 2 s, want 6", len(got))
	}
	// Doubling: next retransmit 4 s later.
	if got := r.Pending(t0.Add(5*time.Second), nil); len(got) != 0 {
		t.Fatalf("resent %v at 5 s, want nothing before 6 s", ids(got))
	}
	if got := r.Pending(t0.Add(6*time.Second), nil); len(got) != 6 {
		t.Fatalf("resent %d at 6 s, want 6", len(got))
	}
	if r.Retransmits != 12 {
		t.Errorf("Retransmits = %d, want 12", r.Retransmits)
	}
	// ACK 0 and 1 frees two slots: 6 and 7 go out, nothing else.
	r.ProcessAcks(t0, []uint32{1, 0})
	got = r.Pending(t0.Add(6*time.Second), nil)
	if !eq(ids(got), []uint32{6, 7}) {
		t.Fatalf("after acks sent %v, want [6 7]", ids(got))
	}
	if !r.Acked(0) || r.Acked(2) || r.Acked(8) {
		t.Errorf("Acked wrong: 0=%v 2=%v 8=%v", r.Acked(0), r.Acked(2), r.Acked(8))
	}
	if r.Queued() != 6 {
		t.Errorf("Queued = %d, want 6", r.Queued())
	}
}

func TestTimeoutCap(t *testing.T) {
	r := New(Config{InitialTimeout: time.Second, MaxTimeout: 3 * time.Second})
	r.Send(wire.OpControlV1, nil)
	now := t0
	r.Pending(now, nil)
	var gaps []time.Duration
	for i := 0; i < 4; i++ {
		next, _ := r.NextTimeout()
		gaps = append(gaps, next.Sub(now))
		now = next
		if len(r.Pending(now, nil)) != 1 {
			t.Fatal("no retransmit at timeout")
		}
	}
	if fmt.Sprint(gaps) != "[1s 2s 3s 3s]" {
		t.Errorf("retransmit gaps %v, want [1s 2s 3s 3s]", gaps)
	}
}

func TestFastRetransmit(t *testing.T) {
	r := New(Config{})
	for i := 0; i < 5; i++ {
		r.Send(wire.OpControlV1, nil)
	}
	r.Pending(t0, nil)
	now := t0.Add(100 * time.Millisecond)
	r.ProcessAcks(t0, []uint32{2, 3})
	if got := r.Pending(now, nil); len(got) != 0 {
		t.Fatalf("resent %v after 2 later acks", ids(got))
	}
	r.ProcessAcks(t0, []uint32{4})
	if got := r.Pending(now, nil); !eq(ids(got), []uint32{0, 1}) {
		t.Fatalf("fast retransmit sent %v, want [0 1]", ids(got))
	}
	if got := r.Pending(now, nil); len(got) != 0 {
		t.Fatalf("fast retransmit repeated: %v", ids(got))
	}
}

func ctl(op wire.Opcode, id uint32, payload string, acks ...uint32) *wire.Control {
	return &wire.Control{Opcode: op, PacketID: id, Payload: []byte(payload), Acks: acks}
}

func TestReceiveOrderDuplicatesWindow(t *testing.T) {
	r := New(Config{})
	for _, id := range []uint32{2, 1} {
		if err := r.Receive(t0, ctl(wire.OpControlV1, id, fmt.Sprint(id))); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := r.Next(); ok {
		t.Fatal("delivered before packet 0 arrived")
	}
	r.Receive(t0, ctl(wire.OpHardResetServerV2, 0, ""))
	var got []string
	for {
		p, ok := r.Next()
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%v/%d/%s", p.Opcode, p.PacketID, p.Payload))
	}
	if want := "[P_CONTROL_HARD_RESET_SERVER_V2/0/ P_CONTROL_V1/1/1 P_CONTROL_V1/2/2]"; fmt.Sprint(got) != want {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	acks := r.Acks(nil, 8, false)
	if !eq(acks, []uint32{2, 1, 0}) {
		t.Fatalf("acks %v, want [2 1 0]", acks)
	}
	// Duplicate of 1: re-acked, not delivered again.
	r.Receive(t0, ctl(wire.OpControlV1, 1, "1"))
	if _, ok := r.Next(); ok {
		t.Fatal("duplicate delivered")
	}
	if acks := r.Acks(nil, 8, false); !eq(acks, []uint32{1}) {
		t.Fatalf("duplicate acks %v, want [1]", acks)
	}
	// Window: next expected 3, receive window 12 → 3..14 accepted.
	if err := r.Receive(t0, ctl(wire.OpControlV1, 14, "x")); err != nil {
		t.Fatalf("id 14 rejected: %v", err)
	}
	err := r.Receive(t0, ctl(wire.OpControlV1, 15, "x"))
	if err == nil || !strings.Contains(err.Error(), "beyond the receive window (expecting 3..14)") {
		t.Fatalf("id 15: %v", err)
	}
	if acks := r.Acks(nil, 8, false); !eq(acks, []uint32{14}) {
		t.Fatalf("acks %v, want only [14] (15 is not acked)", acks)
	}
	// ACK_V1 carries no packet id.
	if err := r.Receive(t0, &wire.Control{Opcode: wire.OpAckV1, Acks: []uint32{99}}); err != nil || r.HasAcks() {
		t.Fatalf("ACK_V1: %v, hasAcks=%v", err, r.HasAcks())
	}
}

func TestAcksLimitAndRecentFill(t *testing.T) {
	r := New(Config{})
	for id := uint32(0); id < 6; id++ {
		r.Receive(t0, ctl(wire.OpControlV1, id, ""))
	}
	if a := r.Acks(nil, 4, true); !eq(a, []uint32{0, 1, 2, 3}) {
		t.Fatalf("first acks %v", a)
	}
	// 2 pending left; fill adds recently sent ones, newest first.
	if a := r.Acks(nil, 4, true); !eq(a, []uint32{4, 5, 3, 2}) {
		t.Fatalf("second acks %v, want [4 5 3 2]", a)
	}
	if r.HasAcks() {
		t.Fatal("acks left")
	}
	if a := r.Acks(nil, 4, false); len(a) != 0 {
		t.Fatalf("acks without fill %v", a)
	}
}

func TestFirstIDs(t *testing.T) {
	r := New(Config{FirstSendID: 1, FirstRecvID: 1})
	if !r.Acked(0) {
		t.Error("packet 0 not considered acknowledged when starting at 1")
	}
	r.Send(wire.OpControlV1, nil)
	if got := r.Pending(t0, nil); !eq(ids(got), []uint32{1}) {
		t.Fatalf("first id %v, want 1", ids(got))
	}
	r.Receive(t0, ctl(wire.OpControlV1, 1, "a"))
	if p, ok := r.Next(); !ok || p.PacketID != 1 {
		t.Fatalf("Next = %v %v", p, ok)
	}
}

// endpoint is one side of the simulated link.
type endpoint struct {
	rel      *Reliable
	toSend   [][]byte
	received [][]byte
}

type flight struct {
	at   time.Time
	to   int
	data []byte
}

// simulate runs two Reliables over a link with loss, duplication and
// reordering (random delays) on a virtual clock, until both received
// everything or the virtual time bound is hit.
func simulate(t *testing.T, seed int64, loss, dup float64, n int) {
	rng := rand.New(rand.NewSource(seed))
	cfg := Config{InitialTimeout: 200 * time.Millisecond, MaxTimeout: 2 * time.Second}
	eps := [2]*endpoint{{rel: New(cfg)}, {rel: New(cfg)}}
	for _, e := range eps {
		for i := 0; i < n; i++ {
			msg := make([]byte, 4+rng.Intn(200))
			binary.BigEndian.PutUint32(msg, uint32(i))
			rng.Read(msg[4:])
			e.toSend = append(e.toSend, msg)
		}
	}
	queued := [2]int{}
	var net []flight
	sid := [2]wire.SessionID{{1}, {2}}
	now := t0
	end := t0.Add(30 * time.Minute)
	transmit := func(from int, p *wire.Control) {
		p.SessionID = sid[from]
		p.RemoteSessionID = sid[1-from]
		b, err := wire.AppendControl(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if rng.Float64() < loss {
			return
		}
		copies := 1
		if rng.Float64() < dup {
			copies = 2
		}
		for i := 0; i < copies; i++ {
			net = append(net, flight{at: now.Add(time.Duration(1+rng.Intn(80)) * time.Millisecond), to: 1 - from, data: b})
		}
	}
	for now.Before(end) {
		// Deliver what is due.
		sort.SliceStable(net, func(i, j int) bool { return net[i].at.Before(net[j].at) })
		for len(net) > 0 && !net[0].at.After(now) {
			f := net[0]
			net = net[1:]
			var p wire.Control
			if err := p.Decode(f.data); err != nil {
				t.Fatalf("decode: %v", err)
			}
			e := eps[f.to]
			e.rel.Receive(now, &p) // beyond-window packets are dropped; the sender retries
			for {
				d, ok := e.rel.Next()
				if !ok {
					break
				}
				e.received = append(e.received, d.Payload)
			}
		}
		// Send.
		for i, e := range eps {
			for queued[i] < len(e.toSend) && e.rel.Queued() < 10 {
				e.rel.Send(wire.OpControlV1, e.toSend[queued[i]])
				queued[i]++
			}
			for _, p := range e.rel.Pending(now, nil) {
				c := &wire.Control{Opcode: p.Opcode, PacketID: p.PacketID, Payload: p.Payload}
				c.Acks = e.rel.Acks(nil, wire.MaxAcksControl, true)
				transmit(i, c)
			}
			for e.rel.HasAcks() {
				transmit(i, &wire.Control{Opcode: wire.OpAckV1, Acks: e.rel.Acks(nil, wire.MaxAcks, false)})
			}
		}
		if len(eps[0].received) == n && len(eps[1].received) == n && eps[0].rel.Idle() && eps[1].rel.Idle() {
			break
		}
		now = now.Add(5 * time.Millisecond)
	}
	for i, e := range eps {
		other := eps[1-i]
		if len(e.received) != n {
			t.Fatalf("seed %d: side %d received %d of %d messages by virtual time %v", seed, i, len(e.received), n, now.Sub(t0))
		}
		for j := range e.received {
			if !bytes.Equal(e.received[j], other.toSend[j]) {
				t.Fatalf("seed %d: side %d message %d differs (got index %d)", seed, i, j, binary.BigEndian.Uint32(e.received[j]))
			}
		}
		if !e.rel.Idle() {
			t.Fatalf("seed %d: side %d still has %d unacknowledged packets", seed, i, e.rel.Queued())
		}
	}
	t.Logf("seed %d: done at virtual %v, retransmits %d/%d", seed, now.Sub(t0), eps[0].rel.Retransmits, eps[1].rel.Retransmits)
}

func TestLossReorderDuplication(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		simulate(t, seed, 0.2, 0.1, 300)
	}
}

func TestHeavyLoss(t *testing.T) {
	simulate(t, 99, 0.5, 0.2, 100)
}

// TestRetransmitTimeoutFromRTT: with an RTT estimate, a packet is first
// resent after srtt+4*rttvar (at least MinTimeout, at most tls-timeout)
// instead of after tls-timeout, then after twice as long each time; an ACK
// of a resent packet is no sample (Karn).
func TestRetransmitTimeoutFromRTT(t *testing.T) {
	var rtt RTT
	r := New(Config{RTT: &rtt})
	r.Send(wire.OpControlV1, nil)
	r.Pending(t0, nil)
	if next, _ := r.NextTimeout(); !next.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("before any sample the timeout is %v, want tls-timeout 2s", next.Sub(t0))
	}
	r.ProcessAcks(t0.Add(10*time.Millisecond), []uint32{0})
	if rtt.Samples() != 1 || rtt.Smoothed() != 10*time.Millisecond {
		t.Fatalf("after one ACK: %d samples, srtt %v; want 1, 10ms", rtt.Samples(), rtt.Smoothed())
	}
	now := t0.Add(time.Second)
	r.Send(wire.OpControlV1, nil)
	r.Pending(now, nil)
	var gaps []time.Duration
	for i := 0; i < 3; i++ {
		next, _ := r.NextTimeout()
		gaps = append(gaps, next.Sub(now))
		now = next
		if len(r.Pending(now, nil)) != 1 {
			t.Fatal("no retransmit at timeout")
		}
	}
	if fmt.Sprint(gaps) != "[200ms 400ms 800ms]" {
		t.Errorf("retransmit gaps %v, want [200ms 400ms 800ms] (30 ms estimate raised to the 200 ms floor, doubled)", gaps)
	}
	r.ProcessAcks(now.Add(5*time.Second), []uint32{1})
	if rtt.Samples() != 1 {
		t.Errorf("the ACK of a resent packet was taken as a sample (%d samples)", rtt.Samples())
	}
	// A slow path: the estimate never exceeds tls-timeout.
	rtt.Sample(5 * time.Second)
	r.Send(wire.OpControlV1, nil)
	r.Pending(now, nil)
	if next, _ := r.NextTimeout(); next.Sub(now) != 2*time.Second {
		t.Errorf("timeout after a 5 s sample is %v, want tls-timeout 2s", next.Sub(now))
	}
}
