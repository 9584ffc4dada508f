package faultnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// UDPProxy relays datagrams from peers on Listen to Target, one upstream
// socket per peer address.
type UDPProxy struct {
	cfg    Config
	pc     *net.UDPConn
	dec    [2]*decider
	sch    [2]*scheduler
	st     [2]counters
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	assoc map[netip.AddrPort]*udpAssoc
}

type udpAssoc struct {
	peer netip.AddrPort
	up   net.Conn
	last atomic.Int64 // unix nanoseconds of the last packet either way
}

// ListenUDP starts a UDP proxy. It stops when ctx ends or Close is called.
func ListenUDP(ctx context.Context, cfg Config) (*UDPProxy, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen))
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen udp %s: %w", cfg.Listen, err)
	}
	p := &UDPProxy{cfg: cfg, pc: pc, assoc: map[netip.AddrPort]*udpAssoc{}}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.dec[Up] = newDecider(cfg.Up, cfg.Seed, Up)
	p.dec[Down] = newDecider(cfg.Down, cfg.Seed, Down)
	p.sch[Up] = newScheduler(cfg.Now, cfg.MaxQueue)
	p.sch[Down] = newScheduler(cfg.Now, cfg.MaxQueue)
	p.wg.Add(2)
	go p.readPeers()
	go func() { // closes the socket when the context ends
		defer p.wg.Done()
		<-p.ctx.Done()
		p.pc.Close()
	}()
	return p, nil
}

// Addr is the listening address.
func (p *UDPProxy) Addr() netip.AddrPort { return p.pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// SetImpairment replaces the impairments of both directions at once.
func (p *UDPProxy) SetImpairment(up, down Impairment) error {
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

// SetBlackhole switches the blackhole of both directions on or off.
func (p *UDPProxy) SetBlackhole(on bool) {
	for _, d := range p.dec {
		im := d.get()
		im.Blackhole = on
		d.set(im)
	}
}

// Stats returns the counters of both directions.
func (p *UDPProxy) Stats() Stats { return Stats{Up: p.st[Up].snapshot(), Down: p.st[Down].snapshot()} }

// Close stops the proxy and waits for its goroutines.
func (p *UDPProxy) Close() error {
	p.cancel()
	p.mu.Lock()
	for _, a := range p.assoc {
		a.up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.sch[Up].close()
	p.sch[Down].close()
	return nil
}

func (p *UDPProxy) readPeers() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := p.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if p.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.cfg.Logger.Warn("faultnet: udp read failed", "listen", p.cfg.Listen, "err", err)
			}
			return
		}
		a, err := p.association(from)
		if err != nil {
			p.cfg.Logger.Warn("faultnet: cannot reach target", "target", p.cfg.Target, "peer", from, "err", err)
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		p.forward(Up, pkt, func(b []byte) error { _, err := a.up.Write(b); return err })
	}
}

func (p *UDPProxy) association(from netip.AddrPort) (*udpAssoc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.assoc[from]; a != nil {
		a.last.Store(p.cfg.Now().UnixNano())
		return a, nil
	}
	if p.ctx.Err() != nil {
		return nil, p.ctx.Err()
	}
	dctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	up, err := p.cfg.Dial(dctx, "udp", p.cfg.Target.String())
	if err != nil {
		return nil, err
	}
	a := &udpAssoc{peer: from, up: up}
	a.last.Store(p.cfg.Now().UnixNano())
	p.assoc[from] = a
	p.wg.Add(1)
	go p.readTarget(a)
	p.cfg.Logger.Debug("faultnet: new udp association", "peer", from, "upstream", up.LocalAddr())
	return a, nil
}

// readTarget relays the target's answers to one peer until the
// association is idle for IdleTimeout or the proxy stops.
func (p *UDPProxy) readTarget(a *udpAssoc) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		if p.assoc[a.peer] == a {
			delete(p.assoc, a.peer)
		}
		p.mu.Unlock()
		a.up.Close()
	}()
	buf := make([]byte, 65535)
	for {
		_ = a.up.SetReadDeadline(p.cfg.Now().Add(p.cfg.IdleTimeout))
		n, err := a.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && p.ctx.Err() == nil {
				if time.Duration(p.cfg.Now().UnixNano()-a.last.Load()) < p.cfg.IdleTimeout {
					continue
				}
				p.cfg.Logger.Debug("faultnet: udp association idle", "peer", a.peer)
				return
			}
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Op == "read" && !errors.Is(err, net.ErrClosed) && p.ctx.Err() == nil {
				// ICMP port unreachable while the target is down: keep the association.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		a.last.Store(p.cfg.Now().UnixNano())
		pkt := append([]byte(nil), buf[:n]...)
		p.forward(Down, pkt, func(b []byte) error { _, err := p.pc.WriteToUDPAddrPort(b, a.peer); return err })
	}
}

// forward applies the impairment of dir to one packet.
func (p *UDPProxy) forward(dir Direction, pkt []byte, write func([]byte) error) {
	d := p.dec[dir].decide(false)
	c := &p.st[dir]
	c.count(d)
	if d.Blackhole || d.Drop {
		return
	}
	send := func() {
		if err := write(pkt); err == nil {
			c.forwarded.Add(1)
			c.bytes.Add(uint64(len(pkt)))
		}
	}
	if !p.sch[dir].add(d.Delay, send) {
		c.overflow.Add(1)
		return
	}
	if d.Dup && !p.sch[dir].add(d.DupDelay, send) {
		c.overflow.Add(1)
	}
}
