package daemon

import (
	"context"
	"testing"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
)

// TestNoReconnectAfterResumeReachesTheSession: the front end's "no
// reconnect after resume" becomes the session's DisconnectOnSleep, and a
// session ended by the sleep is reported to the front end with the reason,
// not as a requested disconnect; without the option the session keeps
// reconnecting after a resume.
func TestNoReconnectAfterResumeReachesTheSession(t *testing.T) {
	for _, off := range []bool{true, false} {
		got := make(chan session.Options, 1)
		run := func(ctx context.Context, o session.Options) error {
			got <- o
			if o.DisconnectOnSleep {
				return session.ErrSlept
			}
			<-ctx.Done()
			return nil
		}
		m, err := New(Config{StateDir: t.TempDir(), Run: run})
		if err != nil {
			t.Fatal(err)
		}
		fe := newFE(1000, nil)
		if err := m.ConnectWith(context.Background(), fe, "work", profileText("a.test"), ipc.ConnectOptions{NoReconnectAfterResume: off}); err != nil {
			t.Fatal(err)
		}
		if o := <-got; o.DisconnectOnSleep != off {
			t.Errorf("NoReconnectAfterResume %v: session DisconnectOnSleep %v", off, o.DisconnectOnSleep)
		}
		if off {
			r := fe.waitEnded(t)
			if r.Reason != "disconnected because the computer went to sleep" || r.Requested || r.AuthFailed {
				t.Errorf("end after the sleep: %+v", r)
			}
		}
		m.Close()
	}
}
