package daemonbackend

import (
	"context"
	"sync"
)

// "Sign in again": when a connection's federated sign-in expires the
// daemon's client says reauth-required and then asks this app for a new
// browser sign-in. That sign-in waits here until the user presses "Sign
// in again" (SignInAgain), and the press lets exactly one sign-in through,
// however often it is pressed and however many requests overlap.

// reauthGate holds one connection's next browser sign-in.
type reauthGate struct {
	token chan struct{} // one token: the one sign-in the press allows
	once  sync.Once
}

// reauthGates are the armed gates by connection name.
type reauthGates struct {
	mu sync.Mutex
	m  map[string]*reauthGate
}

// arm makes the next sign-in of name wait for open.
func (g *reauthGates) arm(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*reauthGate{}
	}
	if g.m[name] == nil {
		g.m[name] = &reauthGate{token: make(chan struct{}, 1)}
	}
}

// open lets one waiting (or the next) sign-in of name through; it reports
// whether a gate was armed. Later calls do nothing.
func (g *reauthGates) open(name string) bool {
	g.mu.Lock()
	gate := g.m[name]
	g.mu.Unlock()
	if gate == nil {
		return false
	}
	gate.once.Do(func() { gate.token <- struct{}{} })
	return true
}

// drop forgets the gate of name (the connection ended).
func (g *reauthGates) drop(name string) {
	g.mu.Lock()
	delete(g.m, name)
	g.mu.Unlock()
}

// wait returns at once when no gate is armed for name; else it waits for
// the one token (then the gate is gone) or for ctx.
func (g *reauthGates) wait(ctx context.Context, name string) error {
	g.mu.Lock()
	gate := g.m[name]
	g.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate.token:
		g.mu.Lock()
		if g.m[name] == gate {
			delete(g.m, name)
		}
		g.mu.Unlock()
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// SignInAgain starts the browser sign-in that connection name waits for
// after its sign-in expired (the GUI's "Sign in again" button). Pressing
// it more than once starts one sign-in.
func (b *Backend) SignInAgain(name string) bool { return b.reauth.open(name) }
