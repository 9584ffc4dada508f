package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/killswitch"
)

// ConnectWith implements ipc.Blocker: Connect with block_when_down.
func (m *Manager) ConnectWith(ctx context.Context, fe ipc.FrontEnd, name, text string, o ipc.ConnectOptions) error {
	return m.connect(ctx, fe, name, text, o)
}

// mayLift returns nil when peer may lift a block chosen by the user uid
// (forced: by the administrator's policy).
func (m *Manager) mayLift(peer ipc.Peer, uid int, forced bool, what string) error {
	if m.cfg.Authorizer.IsAdmin(peer) {
		return nil
	}
	if forced {
		return &ipc.Error{Code: ipc.CodeDenied, Message: what + " is forced by the administrator's policy; only an administrator may lift it"}
	}
	if peer.SID == "" && peer.UID == uid {
		return nil
	}
	return &ipc.Error{Code: ipc.CodeDenied, Message: fmt.Sprintf("%s was chosen by another user; only that user or an administrator may lift it", what)}
}

// Unblock implements ipc.Blocker: it lifts the blocks of running
// connections peer may lift, and a block left by a crashed session.
func (m *Manager) Unblock(peer ipc.Peer) (string, error) {
	m.mu.Lock()
	var blocks []*killswitch.Block
	for _, c := range m.sortedConns() {
		if c.block != nil && !c.block.Lifted() {
			blocks = append(blocks, c.block)
		}
	}
	m.mu.Unlock()
	var done []string
	var denied error
	for _, b := range blocks {
		rec := b.Record()
		if err := m.mayLift(peer, rec.UID, rec.Forced, b.String()); err != nil {
			denied = err
			continue
		}
		if err := b.Lift(); err != nil {
			return strings.Join(done, "\n"), &ipc.Error{Code: ipc.CodeInternal, Message: err.Error()}
		}
		m.log.Info("block lifted", "block", b.String(), "by", peer.String())
		done = append(done, "Lifted "+b.String()+" until the connection ends.")
	}
	if len(blocks) == 0 {
		rec, err := killswitch.LoadRecord(m.cfg.StateDir)
		if err != nil {
			return "", &ipc.Error{Code: ipc.CodeInternal, Message: err.Error()}
		}
		if rec != nil {
			if err := m.mayLift(peer, rec.UID, rec.Forced, fmt.Sprintf("the block left by %q", rec.Profile)); err != nil {
				return "", err
			}
		}
		fw, err := m.firewall()
		if err != nil {
			return "", &ipc.Error{Code: ipc.CodeInternal, Message: err.Error()}
		}
		l, err := killswitch.LiftRecorded(fw, m.cfg.StateDir)
		if err != nil {
			return "", &ipc.Error{Code: ipc.CodeInternal, Message: err.Error()}
		}
		m.log.Info("unblock", "result", l.String(), "by", peer.String())
		done = append(done, l.String())
	}
	if len(done) == 0 && denied != nil {
		return "", denied
	}
	return strings.Join(done, "\n"), nil
}

// restoreBlock puts back a block recorded by a session of a daemon that
// crashed or a machine that rebooted: it holds until a connection takes it
// over or someone lifts it.
func (m *Manager) restoreBlock() error {
	rec, err := killswitch.LoadRecord(m.cfg.StateDir)
	if err != nil || rec == nil {
		return err
	}
	fw, err := m.firewall()
	if err != nil {
		return err
	}
	if _, err := killswitch.Restore(fw, m.cfg.StateDir, platform.ProcessAlive); err != nil {
		return err
	}
	m.log.Warn("traffic outside the tunnel stays blocked: a previous session's block is in place (cvpn unblock lifts it)", "profile", rec.Profile)
	return nil
}

func (m *Manager) firewall() (killswitch.Firewall, error) {
	if m.cfg.Firewall != nil {
		return m.cfg.Firewall, nil
	}
	return killswitch.Open(m.log)
}
