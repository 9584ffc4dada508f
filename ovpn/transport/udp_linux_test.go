package transport

import (
	"bytes"
	"testing"
	"time"
)

// TestUDPGSOFallback checks both send paths: with UDP GSO (when the kernel
// has it) and with plain sendmmsg, runs of equal packets arrive intact.
func TestUDPGSOFallback(t *testing.T) {
	for _, gso := range []bool{true, false} {
		c, srv := udpPair(t)
		b := c.(*udpConn).b
		if gso && !b.gso {
			t.Log("kernel without UDP_SEGMENT: only the sendmmsg path is tested")
			continue
		}
		b.gso = gso
		pkts := testPackets()
		if err := c.WriteBatch(pkts); err != nil {
			t.Fatalf("gso=%v: %v", gso, err)
		}
		buf := make([]byte, MaxPacket)
		for i, want := range pkts {
			srv.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := srv.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], want) {
				t.Fatalf("gso=%v datagram %d: %d bytes, err %v; want %d bytes", gso, i, n, err, len(want))
			}
		}
	}
}
