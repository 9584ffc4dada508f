package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestStreamOverTCP moves more than the socket buffers hold through a real
// loopback TCP connection (on Linux with raw system calls, so writes are
// partial and wait), then checks that a read deadline and the peer's close
// still reach the reader.
func TestStreamOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			close(accepted)
			return
		}
		accepted <- c
	}()
	ca, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, ok := <-accepted
	if !ok {
		t.FailNow()
	}
	defer cb.Close()
	sa := NewStream(ca, netip.MustParseAddrPort("127.0.0.1:1"))
	sb := NewStream(cb, netip.MustParseAddrPort("127.0.0.1:2"))

	const batches = 200 // 200 x 32 x 1400 bytes = 8.9 MB
	pkt := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1400-i%7) }
	done := make(chan error, 1)
	go func() {
		batch := make([][]byte, 32)
		for b := 0; b < batches; b++ {
			for i := range batch {
				batch[i] = pkt(b*32 + i)
			}
			if err := sa.WriteBatch(batch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, MaxPacket)
	}
	sizes := make([]int, 16)
	for got := 0; got < batches*32; {
		n, err := sb.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatalf("after %d packets: %v", got, err)
		}
		for i := 0; i < n; i++ {
			if !bytes.Equal(bufs[i][:sizes[i]], pkt(got)) {
				t.Fatalf("packet %d arrived changed (%d bytes)", got, sizes[i])
			}
			got++
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}

	cb.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := sb.ReadPacket(bufs[0]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
	cb.SetReadDeadline(time.Time{})
	ca.Close()
	if _, err := sb.ReadPacket(bufs[0]); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}
