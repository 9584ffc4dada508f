package faultnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tcpChunk bounds one read, so one loss decision covers at most this much.
const tcpChunk = 16 << 10

// TCPProxy relays TCP connections from Listen to Target, delaying and
// stalling the byte stream without reordering or losing it.
type TCPProxy struct {
	cfg    Config
	ln     *net.TCPListener
	dec    [2]*decider
	st     [2]counters
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// ListenTCP starts a TCP proxy. It stops when ctx ends or Close is called.
func ListenTCP(ctx context.Context, cfg Config) (*TCPProxy, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(cfg.Listen))
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen tcp %s: %w", cfg.Listen, err)
	}
	p := &TCPProxy{cfg: cfg, ln: ln, conns: map[net.Conn]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.dec[Up] = newDecider(cfg.Up, cfg.Seed, Up)
	p.dec[Down] = newDecider(cfg.Down, cfg.Seed, Down)
	p.wg.Add(2)
	go p.accept()
	go func() {
		defer p.wg.Done()
		<-p.ctx.Done()
		p.ln.Close()
		p.CloseConnections()
	}()
	return p, nil
}

// Addr is the listening address.
func (p *TCPProxy) Addr() netip.AddrPort { return p.ln.Addr().(*net.TCPAddr).AddrPort() }

// SetImpairment replaces the impairments of both directions at once.
func (p *TCPProxy) SetImpairment(up, down Impairment) error {
	if err := up.Validate(); err != nil {
		return err
	}
	if err := down.Validate(); err != nil {
		return err
	}
	p.dec[Up].set(up)
	p.dec[Down].set(down)
	return nil
}

// SetBlackhole holds (on) or releases (off) all relayed bytes.
func (p *TCPProxy) SetBlackhole(on bool) {
	for _, d := range p.dec {
		im := d.get()
		im.Blackhole = on
		d.set(im)
	}
}

// Stats returns the counters of both directions (chunks, not segments).
func (p *TCPProxy) Stats() Stats { return Stats{Up: p.st[Up].snapshot(), Down: p.st[Down].snapshot()} }

// CloseConnections resets every relayed connection (both sides) but keeps
// listening, like a middlebox dropping its state.
func (p *TCPProxy) CloseConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// Close stops the proxy and waits for its goroutines.
func (p *TCPProxy) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *TCPProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.ctx.Err() != nil {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.cfg.Logger.Warn("faultnet: accept failed", "listen", p.cfg.Listen, "err", err)
			}
			return
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.relay(c)
	}
}

// relay connects one accepted connection to the target and pumps both
// directions until either side ends.
func (p *TCPProxy) relay(down net.Conn) {
	defer p.wg.Done()
	defer func() { p.track(down, false); down.Close() }()
	dctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	up, err := p.cfg.Dial(dctx, "tcp", p.cfg.Target.String())
	cancel()
	if err != nil {
		p.cfg.Logger.Warn("faultnet: cannot reach target", "target", p.cfg.Target, "peer", down.RemoteAddr(), "err", err)
		return
	}
	if !p.track(up, true) {
		up.Close()
		return
	}
	defer func() { p.track(up, false); up.Close() }()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(Up, down, up) }()
	go func() { defer wg.Done(); p.pump(Down, up, down) }()
	wg.Wait()
}

type chunk struct {
	b  []byte
	at time.Time
}

// pump copies src to dst in order, each chunk delayed by its decision.
// When either end fails both connections are closed.
func (p *TCPProxy) pump(dir Direction, src, dst net.Conn) {
	q := make(chan chunk, p.cfg.MaxQueue)
	c := &p.st[dir]
	done := make(chan struct{})
	go func() { // writer, owned by pump
		defer close(done)
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		for ch := range q {
			if d := ch.at.Sub(p.cfg.Now()); d > 0 {
				t.Reset(d)
				select {
				case <-t.C:
				case <-p.ctx.Done():
					return
				}
			}
			for p.dec[dir].get().Blackhole { // hold while the blackhole is on
				select {
				case <-time.After(10 * time.Millisecond):
				case <-p.ctx.Done():
					return
				}
			}
			if _, err := dst.Write(ch.b); err != nil {
				src.Close()
				return
			}
			c.forwarded.Add(1)
			c.bytes.Add(uint64(len(ch.b)))
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	var last time.Time
	for {
		buf := make([]byte, tcpChunk)
		n, err := src.Read(buf)
		if n > 0 {
			d := p.dec[dir].decide(true)
			c.count(d)
			at := p.cfg.Now().Add(d.Delay)
			if at.Before(last) {
				at = last // keep byte order
			}
			last = at
			select {
			case q <- chunk{b: buf[:n], at: at}:
			case <-done:
				close(q)
				return
			}
		}
		if err != nil {
			close(q)
			<-done
			if !errors.Is(err, net.ErrClosed) && p.ctx.Err() == nil {
				p.cfg.Logger.Debug("faultnet: tcp stream ended", "dir", dir.String(), "err", err)
			}
			return
		}
	}
}
