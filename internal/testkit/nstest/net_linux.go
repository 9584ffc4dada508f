package nstest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Ping sends single ICMP echo requests (ping -c 1 -W 1) from namespace ns
// to addr until one is answered. It gives up when ctx ends, or after 10
// seconds when ctx has no deadline; the error holds the last ping output.
func Ping(ctx context.Context, ns string, addr netip.Addr) error {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	var last error
	for attempt := 1; ; attempt++ {
		_, err := Run(ctx, ns, "ping", "-n", "-q", "-c", "1", "-W", "1", addr.String())
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("nstest: no echo reply from %s in namespace %s after %d attempts: %w", addr, ns, attempt, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PingFails checks that addr does NOT answer from ns: one ping with a one
// second wait must fail. Use it to show a destination is unreachable
// without the tunnel.
func PingFails(ctx context.Context, ns string, addr netip.Addr) error {
	out, err := Run(ctx, ns, "ping", "-n", "-q", "-c", "1", "-W", "1", addr.String())
	if err == nil {
		return fmt.Errorf("nstest: %s answered ping from namespace %s, want no reply:\n%s", addr, ns, out)
	}
	return nil
}

// TransferResult is what Transfer measured.
type TransferResult struct {
	Size     int64    // bytes requested
	Sent     int64    // bytes written by the sender
	Received int64    // bytes read by the receiver
	SentSHA  [32]byte // SHA-256 of what was sent
	RecvSHA  [32]byte // SHA-256 of what arrived
	Duration time.Duration
}

// OK reports whether every byte arrived intact.
func (r TransferResult) OK() bool {
	return r.Sent == r.Size && r.Received == r.Size && r.SentSHA == r.RecvSHA
}

// String summarises the result with both hashes and the throughput.
func (r TransferResult) String() string {
	mbps := 0.0
	if r.Duration > 0 {
		mbps = float64(r.Received) * 8 / r.Duration.Seconds() / 1e6
	}
	return fmt.Sprintf("sent %d bytes sha256 %s, received %d bytes sha256 %s, in %v (%.1f Mbit/s)",
		r.Sent, hex.EncodeToString(r.SentSHA[:]), r.Received, hex.EncodeToString(r.RecvSHA[:]), r.Duration.Round(time.Millisecond), mbps)
}

// Transfer sends size pseudo-random bytes over TCP from a sender in
// namespace fromNS to a listener on toAddr (any free port) in namespace toNS
// and returns the SHA-256 of both ends. Both ends run in this process. The
// transfer is bounded by ctx, or by 120 seconds without a deadline. An error
// is returned when the connection fails; a completed transfer with a
// mismatch is reported through TransferResult.OK.
func Transfer(ctx context.Context, fromNS, toNS string, toAddr netip.Addr, size int64) (TransferResult, error) {
	res := TransferResult{Size: size}
	ctx, cancel := withDefaultTimeout(ctx, 120*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()

	var ln net.Listener
	err := InNS(toNS, func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(toAddr.String(), "0"))
		return err
	})
	if err != nil {
		return res, fmt.Errorf("nstest: transfer listener in %s on %s: %w", toNS, toAddr, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	type recv struct {
		n   int64
		sum [32]byte
		err error
	}
	recvc := make(chan recv, 1)
	go func() { // owned by Transfer: ends by EOF, error or the deadline
		var r recv
		if tl, ok := ln.(*net.TCPListener); ok {
			_ = tl.SetDeadline(deadline)
		}
		c, err := ln.Accept()
		if err != nil {
			r.err = fmt.Errorf("accept: %w", err)
			recvc <- r
			return
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		h := sha256.New()
		r.n, r.err = io.Copy(h, c)
		copy(r.sum[:], h.Sum(nil))
		recvc <- r
	}()

	start := time.Now()
	var conn net.Conn
	err = InNS(fromNS, func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(toAddr.String(), strconv.Itoa(port)))
		return err
	})
	if err != nil {
		_ = ln.Close() // unblocks Accept
		<-recvc
		return res, fmt.Errorf("nstest: transfer from %s to %s port %d: %w", fromNS, toAddr, port, err)
	}
	_ = conn.SetDeadline(deadline)
	sendErr := send(conn, size, &res)
	if cw, ok := conn.(*net.TCPConn); ok && sendErr == nil {
		sendErr = cw.CloseWrite()
	}
	if sendErr != nil {
		_ = conn.Close() // unblocks the receiver
	}
	r := <-recvc
	res.Duration = time.Since(start)
	_ = conn.Close()
	res.Received, res.RecvSHA = r.n, r.sum
	if err := errors.Join(sendErr, r.err); err != nil {
		return res, fmt.Errorf("nstest: transfer %s -> %s (%s): %w", fromNS, toNS, res, err)
	}
	return res, nil
}

func send(w io.Writer, size int64, res *TransferResult) error {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	rng := rand.NewChaCha8(seed)
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for res.Sent < size {
		n := int64(len(buf))
		if size-res.Sent < n {
			n = size - res.Sent
		}
		_, _ = rng.Read(buf[:n])
		h.Write(buf[:n])
		m, err := w.Write(buf[:n])
		res.Sent += int64(m)
		if err != nil {
			copy(res.SentSHA[:], h.Sum(nil))
			return fmt.Errorf("send: %w", err)
		}
	}
	copy(res.SentSHA[:], h.Sum(nil))
	return nil
}
