package server

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// Pool hands out the client addresses of client_cidr: the network address,
// the server's own address (the first host) and the broadcast address are
// never given out. It is safe for concurrent use.
type Pool struct {
	prefix netip.Prefix
	server netip.Addr
	mu     sync.Mutex
	used   map[netip.Addr]bool
	next   netip.Addr
}

// ErrPoolExhausted is returned when every address is in use.
var ErrPoolExhausted = errors.New("client address pool exhausted")

// NewPool creates a pool for an IPv4 prefix of /30 or larger.
func NewPool(p netip.Prefix) (*Pool, error) {
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("client address pool %s: need an IPv4 prefix of /30 or larger", p)
	}
	srv := p.Addr().Next()
	return &Pool{prefix: p, server: srv, used: map[netip.Addr]bool{}, next: srv.Next()}, nil
}

// Server returns the server's own tunnel address.
func (p *Pool) Server() netip.Addr { return p.server }

// Prefix returns the pool's prefix.
func (p *Pool) Prefix() netip.Prefix { return p.prefix }

func (p *Pool) broadcast() netip.Addr {
	a := p.prefix.Addr().As4()
	host := uint32(1)<<(32-p.prefix.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Allocate returns a free address, searching round-robin from the last one
// handed out so that a released address is not reused at once.
func (p *Pool) Allocate() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bc := p.broadcast()
	first := p.server.Next()
	a := p.next
	for range 1 << (32 - p.prefix.Bits()) {
		if !p.prefix.Contains(a) || a == bc {
			a = first
		}
		if !p.used[a] {
			p.used[a] = true
			p.next = a.Next()
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, ErrPoolExhausted
}

// Release returns a to the pool.
func (p *Pool) Release(a netip.Addr) {
	p.mu.Lock()
	delete(p.used, a)
	p.mu.Unlock()
}

// InUse returns how many addresses are allocated.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}
