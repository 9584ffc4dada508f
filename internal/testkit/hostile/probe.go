package hostile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/internal/icmpecho"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// ProbeMode says how Probe sends its echo requests.
type ProbeMode int

const (
	// ProbeNormal sends each request once, in order.
	ProbeNormal ProbeMode = iota
	// ProbeReplay sends each request ProbeReplayCopies times in a row.
	ProbeReplay
	// ProbeReorder sends the requests in reverse order (within the replay
	// window when n <= 64).
	ProbeReorder
	// ProbeTooOld sends requests 1..n-1, then request 0, whose packet id is
	// then more than 64 behind when n > 65.
	ProbeTooOld
	// ProbeWrongKeyID seals the requests with the current key material
	// under a key id that was never negotiated.
	ProbeWrongKeyID
)

// ProbeReplayCopies is how often ProbeReplay sends each packet.
const ProbeReplayCopies = 4

func (m ProbeMode) String() string {
	return [...]string{"normal", "replay", "reorder", "too-old", "wrong-key-id"}[m]
}

// ProbeResult is what came back from a Probe.
type ProbeResult struct {
	Requests    int // distinct echo requests
	Packets     int // data packets sent
	Answered    int // distinct requests the client answered
	Replies     int // echo replies received (a replay that got through counts again)
	FirstMissed int // lowest unanswered sequence number, -1 if all were answered
}

func (r ProbeResult) String() string {
	return fmt.Sprintf("%d requests in %d packets: %d answered, %d replies", r.Requests, r.Packets, r.Answered, r.Replies)
}

// Probe sends n ICMP echo requests from ServerTunnelIP to ClientTunnelIP
// through the tunnel as mode says, waits for answers for wait, and
// reports them.
func (s *Server) Probe(ctx context.Context, mode ProbeMode, n int, wait time.Duration) (ProbeResult, error) {
	ss := s.current()
	if ss == nil {
		return ProbeResult{}, errors.New("hostile: Probe without a session")
	}
	s.mu.Lock()
	s.probeID++
	id := s.probeID
	s.replies = map[uint16]int{}
	s.mu.Unlock()

	ss.mu.Lock()
	key := ss.keys.Primary()
	if mode == ProbeWrongKeyID && ss.kb != nil {
		kb := *ss.kb
		var err error
		key, err = datachannel.NewKey(&kb, datachannel.Config{Cipher: datachannel.CipherAES256GCM, Role: wire.RoleServer,
			KeyID: (ss.keyID + 4) & 7, DataV2: ss.dataV2, Now: s.cfg.Now})
		kb.Zero()
		if err != nil {
			ss.mu.Unlock()
			return ProbeResult{}, err
		}
	}
	var pkts [][]byte
	var err error
	for i := range n {
		var p []byte
		if key == nil {
			err = errors.New("hostile: no data channel key")
			break
		}
		p, err = key.Seal(nil, icmpecho.Packet{Src: ServerTunnelIP, Dst: ClientTunnelIP, Type: icmpecho.Request, ID: id, Seq: uint16(i), Payload: []byte("cvpn hostile probe")}.Marshal())
		if err != nil {
			break
		}
		pkts = append(pkts, p)
	}
	ss.mu.Unlock()
	if err != nil {
		return ProbeResult{}, err
	}
	var order [][]byte
	switch mode {
	case ProbeReplay:
		for _, p := range pkts {
			for range ProbeReplayCopies {
				order = append(order, p)
			}
		}
	case ProbeReorder:
		for i := len(pkts) - 1; i >= 0; i-- {
			order = append(order, pkts[i])
		}
	case ProbeTooOld:
		order = append(append(order, pkts[1:]...), pkts[0])
	default:
		order = pkts
	}
	for _, p := range order {
		if _, err := s.pc.WriteToUDPAddrPort(p, ss.peer); err != nil {
			return ProbeResult{}, fmt.Errorf("hostile: sending probe to %s: %w", ss.peer, err)
		}
		time.Sleep(200 * time.Microsecond) // keep the client's socket buffer from overflowing
	}
	select {
	case <-ctx.Done():
		return ProbeResult{}, ctx.Err()
	case <-time.After(wait):
	}
	res := ProbeResult{Requests: n, Packets: len(order), FirstMissed: -1}
	s.mu.Lock()
	for i := range n {
		c := s.replies[uint16(i)]
		if c > 0 {
			res.Answered++
		} else if res.FirstMissed < 0 {
			res.FirstMissed = i
		}
		res.Replies += c
	}
	s.mu.Unlock()
	return res, nil
}
