package client

import (
	"sync"

	"github.com/cvpn/cvpn/platform"
)

// tunnelPrep creates the TUN device of one connection attempt while its
// handshake runs: creating a device takes milliseconds (a Wintun adapter
// far longer) and needs nothing from the server but its presence. The
// pushed MTU, addresses and routes are set later by Apply. The tunnelPrep
// owns the goroutine that creates the device; wait and release wait for it.
type tunnelPrep struct {
	c    *Client
	once sync.Once
	done chan struct{}
	p    *platform.Prepared
	err  error
}

func (c *Client) newTunnelPrep() *tunnelPrep {
	return &tunnelPrep{c: c, done: make(chan struct{})}
}

// start begins creating the device, once; it does not block and may be
// called from any goroutine (the link's reader calls it when the server
// first answers, so a server that never answers leaves no device behind).
func (tp *tunnelPrep) start() {
	tp.once.Do(func() {
		go func() {
			defer close(tp.done)
			cfg := &tp.c.cfg
			tp.p, tp.err = cfg.Tunnel.Prepare(cfg.TunnelID, "", cfg.Profile.TunMTU)
		}()
	})
}

// wait returns the prepared device, or nil when creating it failed: Apply
// then creates the device itself and reports the error if it recurs.
func (tp *tunnelPrep) wait() *platform.Prepared {
	tp.start()
	<-tp.done
	if tp.err != nil {
		tp.c.cfg.logger().Debug("creating the TUN device during the handshake failed", "err", tp.err)
		return nil
	}
	return tp.p
}

// release removes the device unless Apply took it over.
func (tp *tunnelPrep) release() {
	tp.once.Do(func() { close(tp.done) }) // never started: nothing to wait for
	<-tp.done
	if tp.p != nil {
		if err := tp.p.Close(); err != nil {
			tp.c.cfg.logger().Error("removing the unused TUN device", "err", err)
		}
	}
}
