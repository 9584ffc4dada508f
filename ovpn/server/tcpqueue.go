package server

import (
	"context"
	"errors"

	"github.com/cvpn/cvpn/ovpn/transport"
)

// tcpQueueLimit is how many batches of data packets may wait for one TCP
// client (OpenVPN's tcp-queue-limit is 64 packets).
const tcpQueueLimit = 64

var errTCPQueueFull = errors.New("tcp send queue full; packets dropped")

// tcpBatch is one queued batch: the packets, copied into buf.
type tcpBatch struct {
	buf  []byte
	pkts [][]byte
}

// tcpQueue sends a TCP client's data packets from a goroutine of its own,
// so a client that stops reading blocks only itself, never the device
// loop that serves every client. When the queue is full, packets are
// dropped and counted. Batches are recycled through free, so the data
// path allocates only while the queue grows to its deepest.
type tcpQueue struct {
	st      *transport.Stream
	q       chan *tcpBatch
	free    chan *tcpBatch
	dropped func(n int)
}

func newTCPQueue(st *transport.Stream, dropped func(n int)) *tcpQueue {
	return &tcpQueue{st: st, q: make(chan *tcpBatch, tcpQueueLimit), free: make(chan *tcpBatch, tcpQueueLimit+1), dropped: dropped}
}

// WriteBatch copies pkts (the caller reuses its buffers) and queues them.
func (t *tcpQueue) WriteBatch(pkts [][]byte) error {
	var b *tcpBatch
	select {
	case b = <-t.free:
	default:
		b = &tcpBatch{}
	}
	b.buf, b.pkts = b.buf[:0], b.pkts[:0]
	for _, p := range pkts {
		b.buf = append(b.buf, p...)
	}
	off := 0
	for _, p := range pkts {
		b.pkts = append(b.pkts, b.buf[off:off+len(p)])
		off += len(p)
	}
	select {
	case t.q <- b:
		return nil
	default:
		t.recycle(b)
		t.dropped(len(pkts))
		return errTCPQueueFull
	}
}

func (t *tcpQueue) recycle(b *tcpBatch) {
	select {
	case t.free <- b:
	default:
	}
}

// run writes queued batches until ctx ends or the socket fails.
func (t *tcpQueue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-t.q:
			err := t.st.WriteBatch(b.pkts)
			t.recycle(b)
			if err != nil {
				return
			}
		}
	}
}
