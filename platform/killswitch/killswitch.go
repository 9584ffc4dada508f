package killswitch

import (
	"errors"
	"fmt"
	"sync"
)

// Firewall is one OS firewall backend holding cvpn's block.
type Firewall interface {
	// Apply installs the rules' plan, replacing cvpn's previous block in
	// one step (no moment without a block while one is held).
	Apply(Rules) error
	// Remove removes cvpn's block; it reports whether one was installed.
	// Nothing but cvpn's own table, anchor or filters is touched.
	Remove() (bool, error)
	// Installed reports whether cvpn's block is installed now.
	Installed() (bool, error)
	// String names what the backend installs, for messages
	// ("nftables table inet cvpn").
	String() string
}

// EnableRef is a backend that enables the OS firewall with a reference
// (macOS pf: pfctl -E returns a token, pfctl -X releases it; pf is
// disabled again only when no reference is left). Hold records the token
// so that the reference of a holder that crashed is released by Restore,
// Lift or LiftRecorded in the next process, not left enabled for ever.
type EnableRef interface {
	// EnableToken is the reference this backend holds; "" for none.
	EnableToken() string
	// Release releases a reference (its own or a recorded one).
	Release(token string) error
}

// tokenOf is fw's enable reference, "" when it has none or takes none.
func tokenOf(fw Firewall) string {
	if r, ok := fw.(EnableRef); ok {
		return r.EnableToken()
	}
	return ""
}

// releaseOld releases the recorded reference old when fw can and it is
// not fw's own. A failure is the backend's to log, never fatal: the
// reference went with a reboot, or pf was reset; a block must still lift.
func releaseOld(fw Firewall, old string) {
	r, ok := fw.(EnableRef)
	if !ok || old == "" || old == r.EnableToken() {
		return
	}
	_ = r.Release(old)
}

// ErrUnsupported is returned by backends for rules they cannot express.
var ErrUnsupported = errors.New("not supported on this system")

// Block is a held block: its record is in the state directory and its
// rules are installed. Methods are safe for concurrent use.
type Block struct {
	mu     sync.Mutex
	fw     Firewall
	dir    string
	rec    Record
	lifted bool
}

// Hold records rec in dir (before anything changes) and installs its rules.
// An existing block of cvpn is replaced in one step: a crashed
// cvpn's block is taken over without a gap.
func Hold(fw Firewall, dir string, rec Record) (*Block, error) {
	if err := rec.Rules.Validate(); err != nil {
		return nil, err
	}
	rec.Version = recordVersion
	rec.Backend = fw.String()
	// A crashed holder's record: its firewall reference is ours to
	// release once our own is taken.
	var old string
	if prev, err := LoadRecord(dir); err == nil && prev != nil {
		old = prev.EnableToken
	}
	rec.EnableToken = old
	if err := SaveRecord(dir, rec); err != nil {
		return nil, err
	}
	if err := fw.Apply(rec.Rules); err != nil {
		// Nothing of ours may stay half-installed; the record goes too
		// when the rules could be removed.
		if _, rerr := fw.Remove(); rerr == nil {
			releaseOld(fw, old)
			_ = DeleteRecord(dir)
		}
		return nil, fmt.Errorf("blocking traffic outside the tunnel (%s): %w", fw, err)
	}
	b := &Block{fw: fw, dir: dir, rec: rec}
	if err := b.recordToken(old); err != nil {
		return nil, err
	}
	return b, nil
}

// recordToken records fw's enable reference once taken (the record is
// written before the firewall changes, when there is none yet) and then
// releases the recorded reference old of a crashed holder. b.mu is held
// or b is not shared yet.
func (b *Block) recordToken(old string) error {
	tok := tokenOf(b.fw)
	if tok == "" || tok == b.rec.EnableToken {
		return nil
	}
	rec := b.rec
	rec.EnableToken = tok
	if err := SaveRecord(b.dir, rec); err != nil {
		return err
	}
	b.rec = rec
	releaseOld(b.fw, old)
	return nil
}

// Rules returns the rules in force.
func (b *Block) Rules() Rules {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rec.Rules
}

// Record returns the block's record.
func (b *Block) Record() Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rec
}

// Update changes the rules (record first, then the firewall). Unchanged
// rules are not reinstalled; a lifted block stays lifted.
func (b *Block) Update(change func(*Rules)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lifted {
		return nil
	}
	if rec, err := LoadRecord(b.dir); err == nil && rec == nil {
		// Someone lifted it (cvpn unblock as root removes the record):
		// it stays lifted until this connection ends.
		b.lifted = true
		return nil
	}
	r := b.rec.Rules
	r.Servers = append([]Server(nil), r.Servers...)
	change(&r)
	if r.Equal(b.rec.Rules) {
		return nil
	}
	if err := r.Validate(); err != nil {
		return err
	}
	rec := b.rec
	rec.Rules = r
	if err := SaveRecord(b.dir, rec); err != nil {
		return err
	}
	if err := b.fw.Apply(r); err != nil {
		return fmt.Errorf("updating the block (%s): %w", b.fw, err)
	}
	b.rec = rec
	return b.recordToken("")
}

// Lift removes the rules, then the record; later Updates change nothing
// (the user lifted the block, for example to sign in to a captive portal).
func (b *Block) Lift() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lifted {
		return nil
	}
	own := tokenOf(b.fw)
	if _, err := b.fw.Remove(); err != nil {
		return fmt.Errorf("lifting the block (%s): %w", b.fw, err)
	}
	b.lifted = true
	if b.rec.EnableToken != own {
		releaseOld(b.fw, b.rec.EnableToken)
	}
	return DeleteRecord(b.dir)
}

// Lifted reports whether Lift ran.
func (b *Block) Lifted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lifted
}

// String names the block for messages.
func (b *Block) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("the %s block of %q (%s)", b.rec.Rules.Mode, b.rec.Profile, b.fw)
}

// Restore installs the block recorded in dir again when the process that
// held it is gone (alive reports whether a pid runs), so that a block
// outlives a crash and a reboot until a connection takes it over or it
// is lifted. It returns the record restored, nil when there was none to
// restore. The crashed holder's firewall reference (EnableRef) is
// released once fw holds its own, which the record then names.
func Restore(fw Firewall, dir string, alive func(pid int) bool) (*Record, error) {
	rec, err := LoadRecord(dir)
	if err != nil || rec == nil {
		return nil, err
	}
	if alive(rec.PID) {
		return nil, nil
	}
	if err := fw.Apply(rec.Rules); err != nil {
		return nil, fmt.Errorf("restoring the block of %q (%s): %w", rec.Profile, fw, err)
	}
	if tok := tokenOf(fw); tok != "" && tok != rec.EnableToken {
		old := rec.EnableToken
		rec.EnableToken = tok
		if err := SaveRecord(dir, *rec); err != nil {
			return rec, err
		}
		releaseOld(fw, old)
	}
	return rec, nil
}

// Lifted says what Lift removed.
type Lifted struct {
	// Record is the block's record; nil when none was recorded.
	Record *Record
	// Rules is true when rules were installed and removed.
	Rules bool
	// What names the backend's object ("nftables table inet cvpn").
	What string
}

// String is the sentence `cvpn unblock` prints.
func (l Lifted) String() string {
	switch {
	case l.Record == nil && !l.Rules:
		return "No block was in place."
	case l.Record == nil:
		return "Removed " + l.What + " (no record of who set it)."
	}
	who := "chosen by the user"
	if l.Record.Forced {
		who = "forced by the administrator's policy"
	}
	s := fmt.Sprintf("Removed the %s block of %q (%s): %s", l.Record.Rules.Mode, l.Record.Profile, who, l.What)
	if !l.Rules {
		s += " was already gone; removed its record"
	}
	return s + "."
}

// LiftRecorded removes whatever block is recorded in dir or installed by
// cvpn (even without a record), and says what it removed.
func LiftRecorded(fw Firewall, dir string) (Lifted, error) {
	rec, err := LoadRecord(dir)
	if err != nil {
		return Lifted{}, err
	}
	own := tokenOf(fw)
	removed, err := fw.Remove()
	if err != nil {
		return Lifted{}, fmt.Errorf("removing %s: %w", fw, err)
	}
	if rec != nil {
		if rec.EnableToken != own {
			// A crashed holder's reference: without it pf would stay
			// enabled.
			releaseOld(fw, rec.EnableToken)
		}
		if err := DeleteRecord(dir); err != nil {
			return Lifted{}, err
		}
	}
	return Lifted{Record: rec, Rules: removed, What: fw.String()}, nil
}
