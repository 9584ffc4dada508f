package killswitchtest

import (
	"errors"
	"sync"

	"github.com/cvpn/cvpn/platform/killswitch"
)

// Firewall is an in-memory killswitch.Firewall. It keeps every Apply, so a
// test can check what was installed when.
type Firewall struct {
	mu        sync.Mutex
	installed *killswitch.Rules
	history   []killswitch.Rules
	// FailApply, when set, makes Apply fail with it.
	FailApply error
}

var _ killswitch.Firewall = (*Firewall)(nil)

func (f *Firewall) String() string { return "fake firewall" }

// Apply records r as installed (validated like a real backend).
func (f *Firewall) Apply(r killswitch.Rules) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailApply != nil {
		return f.FailApply
	}
	if err := r.Validate(); err != nil {
		return err
	}
	f.installed = &r
	f.history = append(f.history, r)
	return nil
}

// Remove removes the installed rules.
func (f *Firewall) Remove() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	had := f.installed != nil
	f.installed = nil
	return had, nil
}

// Installed reports whether rules are installed.
func (f *Firewall) Installed() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.installed != nil, nil
}

// Rules returns the installed rules.
func (f *Firewall) Rules() (killswitch.Rules, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.installed == nil {
		return killswitch.Rules{}, errors.New("no block installed")
	}
	return *f.installed, nil
}

// History returns every rule set applied, in order.
func (f *Firewall) History() []killswitch.Rules {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]killswitch.Rules(nil), f.history...)
}
