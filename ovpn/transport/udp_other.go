//go:build !linux

package transport

import "net"

// udpBatch on systems without recvmmsg/sendmmsg moves one datagram per
// system call.
type udpBatch struct{ c *net.UDPConn }

func newUDPBatch(c *net.UDPConn) (*udpBatch, error) { return &udpBatch{c: c}, nil }

func (b *udpBatch) readBatch(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 || len(sizes) == 0 {
		return 0, nil
	}
	n, err := b.c.Read(bufs[0])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	return 1, nil
}

func (b *udpBatch) writeBatch(pkts [][]byte) error {
	for _, p := range pkts {
		if _, err := b.c.Write(p); err != nil {
			return err
		}
	}
	return nil
}
