package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/internal/icmpecho"
	"github.com/cvpn/cvpn/ovpn/datachannel"
)

// Data sends IPv4 packets through an open session's data channel, so that
// load tests can measure what the server receives. It uses the TLS
// exporter keys (the session advertises TLS_KEY_EXPORT) with AES-256-GCM
// and P_DATA_V2 under the peer id of the PUSH_REPLY.
type Data struct {
	s   *Session
	key *datachannel.Key
	// IP is the tunnel address the server assigned (ifconfig).
	IP  netip.Addr
	buf []byte
	pkt []byte
}

// OpenData derives the session's data channel key. One goroutine at a time
// may call Send on the result.
func (s *Session) OpenData() (*Data, error) {
	ip, peerID, err := parsePush(s.PushReply)
	if err != nil {
		return nil, err
	}
	k, err := s.key.DataKey(true, datachannel.Config{Cipher: datachannel.CipherAES256GCM, DataV2: true, PeerID: peerID})
	if err != nil {
		return nil, fmt.Errorf("loadgen: data channel key: %w", err)
	}
	return &Data{s: s, key: k, IP: ip}, nil
}

// parsePush finds the ifconfig address and peer-id of a PUSH_REPLY.
func parsePush(reply string) (netip.Addr, uint32, error) {
	var ip netip.Addr
	peerID := -1
	for _, opt := range strings.Split(strings.TrimPrefix(reply, "PUSH_REPLY,"), ",") {
		f := strings.Fields(opt)
		switch {
		case len(f) >= 2 && f[0] == "ifconfig":
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				return ip, 0, fmt.Errorf("loadgen: PUSH_REPLY ifconfig %q: %w", f[1], err)
			}
			ip = a
		case len(f) == 2 && f[0] == "peer-id":
			n, err := strconv.ParseUint(f[1], 10, 24)
			if err != nil {
				return ip, 0, fmt.Errorf("loadgen: PUSH_REPLY peer-id %q: %w", f[1], err)
			}
			peerID = int(n)
		}
	}
	if !ip.Is4() || peerID < 0 {
		return ip, 0, errors.New("loadgen: PUSH_REPLY lacks an IPv4 ifconfig or a peer-id: " + reply)
	}
	return ip, uint32(peerID), nil
}

// Send seals one IPv4/UDP packet of size bytes (at least 28) from the
// tunnel address to dst and sends it to the server.
func (d *Data) Send(dst netip.AddrPort, size int) error {
	if size < 28 || size > 1500 {
		return fmt.Errorf("loadgen: packet size %d outside 28..1500", size)
	}
	if cap(d.pkt) < size {
		d.pkt = make([]byte, size)
	}
	p := d.pkt[:size]
	clear(p)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(size))
	p[8] = 64
	p[9] = 17 // UDP
	src := d.IP.As4()
	copy(p[12:16], src[:])
	da := dst.Addr().As4()
	copy(p[16:20], da[:])
	binary.BigEndian.PutUint16(p[10:], icmpecho.Checksum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], dst.Port())
	binary.BigEndian.PutUint16(p[24:], uint16(size-20))
	out, err := d.key.Seal(d.buf[:0], p)
	if err != nil {
		return err
	}
	d.buf = out
	return d.s.conn.WritePacket(out)
}

// SendExit tells the server the session ends (the OCC exit message over
// the data channel, which every server understands), so that it releases
// the session at once instead of at ping-restart.
func (d *Data) SendExit() error {
	out, err := d.key.Seal(d.buf[:0], datachannel.AppendOCCExit(nil))
	if err != nil {
		return err
	}
	d.buf = out
	return d.s.conn.WritePacket(out)
}
