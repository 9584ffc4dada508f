package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// errNeedsUser is what an autoconnect session gets when its profile asks
// for a password, an MFA code or a browser sign-in: the daemon has nobody
// to ask, so it never waits.
var errNeedsUser = errors.New("this managed profile needs a user to sign in (password, MFA code or browser); connect it from the cvpn app")

// systemProfile reads the system profile name from the policy's
// profiles_dir, as root: users may connect it without being able to read
// its key.
func (m *Manager) systemProfile(name string) (string, error) {
	if m.cfg.SystemProfiles == "" {
		return "", &ipc.Error{Code: ipc.CodeBadRequest, Message: "the connect request carries no profile and the daemon has no system profiles folder"}
	}
	path := filepath.Join(m.cfg.SystemProfiles, name+".ovpn")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &ipc.Error{Code: ipc.CodeNotFound, Message: fmt.Sprintf("no system profile %q in %s", name, m.cfg.SystemProfiles)}
	}
	if err != nil {
		return "", &ipc.Error{Code: ipc.CodeInternal, Message: fmt.Sprintf("system profile %s: %v", name, err)}
	}
	return string(data), nil
}

// managedDenied rewords a refused control request on an autoconnect
// connection.
func managedDenied(name string, err error) error {
	return &ipc.Error{Code: ipc.CodeDenied, Message: fmt.Sprintf(
		"connection %s is managed by the administrator (autoconnect in the cvpn policy file); %v", name, err)}
}

// Autoconnect starts every autoconnect profile of the policy and keeps it
// up until Close: when its session ends, it is started again after
// RetryMin, doubling up to RetryMax (back to RetryMin once it was
// connected). An administrator's disconnect keeps it down until the daemon
// restarts; a profile that needs a user to sign in is left for the app.
func (m *Manager) Autoconnect() {
	for _, name := range m.cfg.Autoconnect {
		m.wg.Go(func() { m.keepUp(name) })
	}
}

func (m *Manager) keepUp(name string) {
	wait := m.cfg.RetryMin
	for {
		fe := newSystemFrontEnd()
		err := m.Connect(context.Background(), fe, name, "", false)
		if err != nil {
			m.log.Warn("autoconnect: cannot start", "name", name, "err", err, "retry_in", wait)
		} else {
			m.log.Info("autoconnect: started", "name", name)
			var r ipc.Result
			select {
			case r = <-fe.ended:
			case <-m.stop:
				return
			}
			switch {
			case r.Requested:
				m.log.Info("autoconnect: disconnected by an administrator; it stays down until the daemon restarts", "name", name)
				return
			case fe.askedUser():
				m.log.Warn("autoconnect: the profile needs a user to sign in; waiting for the app", "name", name, "reason", r.Reason)
				return
			}
			if fe.wasConnected() {
				wait = m.cfg.RetryMin
			}
			m.log.Warn("autoconnect: session ended; starting it again", "name", name, "reason", r.Reason, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, m.cfg.RetryMax)
	}
}

// systemFrontEnd is the owner of an autoconnect connection: the daemon
// itself. It answers no credential question.
type systemFrontEnd struct {
	ended chan ipc.Result
	done  chan struct{}

	mu        sync.Mutex
	asked     bool
	connected bool
	// giveUp ends the connection (set by connect): a web sign-in page is
	// only a request to show it, so the session would wait for nobody.
	giveUp context.CancelCauseFunc
}

func newSystemFrontEnd() *systemFrontEnd {
	return &systemFrontEnd{ended: make(chan ipc.Result, 1), done: make(chan struct{})}
}

func (s *systemFrontEnd) Peer() ipc.Peer { return systemPeer() }

func (s *systemFrontEnd) Credentials(string) clientapi.Credentials { return noUser{s} }

func (s *systemFrontEnd) Event(_ string, ev clientapi.Event) {
	if ev.Event == clientapi.EventState && ev.State == clientapi.StateConnected {
		s.mu.Lock()
		s.connected = true
		s.mu.Unlock()
	}
}

func (s *systemFrontEnd) Ended(_ string, r ipc.Result) {
	select {
	case s.ended <- r:
	default:
	}
}

// Done is never closed: the daemon does not go away under its own
// connections (they are not bound to it).
func (s *systemFrontEnd) Done() <-chan struct{} { return s.done }

func (s *systemFrontEnd) askedUser() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

func (s *systemFrontEnd) wasConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// noUser refuses every credential question at once.
type noUser struct{ s *systemFrontEnd }

func (n noUser) UserPass(context.Context, string) (string, string, error) {
	n.mark()
	return "", "", errNeedsUser
}

func (n noUser) Challenge(context.Context, string, bool) (string, error) {
	n.mark()
	return "", errNeedsUser
}

func (n noUser) mark() {
	n.s.mu.Lock()
	n.s.asked = true
	n.s.mu.Unlock()
}

// SignIn refuses a browser sign-in: nobody sits at the daemon.
func (n noUser) SignIn(context.Context, string) (string, error) {
	n.mark()
	return "", errNeedsUser
}

// OpenURL refuses to show a server's web sign-in page (WEB_AUTH /
// OPEN_URL): nobody sits at the daemon, and the daemon never opens a
// browser. The connection ends at once, so that the app connects the
// profile as the logged-in user, who then signs in.
func (n noUser) OpenURL(context.Context, string) error {
	n.mark()
	n.s.mu.Lock()
	giveUp := n.s.giveUp
	n.s.mu.Unlock()
	if giveUp != nil {
		giveUp(errNeedsUser)
	}
	return errNeedsUser
}

func (s *systemFrontEnd) setGiveUp(f context.CancelCauseFunc) {
	s.mu.Lock()
	s.giveUp = f
	s.mu.Unlock()
}

// ACSPort is the default loopback port; nothing listens on it for an
// autoconnect session, which refuses the sign-in.
func (n noUser) ACSPort() int { return 35001 }
