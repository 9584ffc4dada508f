package daemonbackend

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// fakeDaemon answers like the daemon: it asks the front end for
// credentials, then reports the connection up.
type fakeDaemon struct {
	mu      sync.Mutex
	user    string
	profile string
	subs    []func(string, clientapi.Event)
}

func (f *fakeDaemon) Status(ipc.Peer) []ipc.Status {
	return []ipc.Status{{Name: "work", State: clientapi.StateConnected, TunnelIPv4: "10.100.0.7", BytesIn: 42}}
}

func (f *fakeDaemon) Connect(ctx context.Context, fe ipc.FrontEnd, name, text string, bind bool) error {
	// Like the daemon, the session runs on its own and asks the front end
	// for credentials while the connect request has already been answered.
	go func() {
		user, _, err := fe.Credentials(name).UserPass(context.Background(), "")
		if err != nil {
			fe.Event(name, clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
			return
		}
		f.mu.Lock()
		f.user, f.profile = user, text
		subs := append([]func(string, clientapi.Event){}, f.subs...)
		f.mu.Unlock()
		ev := clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, TunnelIPv4: "10.100.0.7"}
		fe.Event(name, ev)
		for _, s := range subs {
			s(name, ev)
		}
	}()
	return nil
}

func (f *fakeDaemon) Disconnect(ipc.Peer, string, bool) ([]string, error) {
	return []string{"work"}, nil
}

func (f *fakeDaemon) Subscribe(fn func(string, clientapi.Event)) func() {
	f.mu.Lock()
	f.subs = append(f.subs, fn)
	f.mu.Unlock()
	return func() {}
}

type creds struct{}

func (creds) UserPass(context.Context, string) (string, string, error) { return "alice", "pw", nil }
func (creds) Challenge(context.Context, string, bool) (string, error)  { return "123456", nil }

func TestBackendOverIPC(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "cvpn.sock")
	st, err := profilestore.Open(filepath.Join(dir, "home"), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ImportFile(filepath.Join(fixtures.Profiles(), "good", "aws-ad.ovpn"), "work"); err != nil {
		t.Fatal(err)
	}
	b := &Backend{StoreProfiles: gui.StoreProfiles{Store: st}, Socket: sock}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// No daemon yet: the UI must be able to tell.
	if err := b.Connect(ctx, "work", creds{}); !errors.Is(err, gui.ErrDaemonNotRunning) {
		t.Fatalf("without a daemon: err = %v, want ErrDaemonNotRunning", err)
	}

	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	fd := &fakeDaemon{}
	srv := &ipc.Server{Handler: fd}
	sctx, scancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(sctx, l) }()
	defer func() { scancel(); <-done }()

	events, err := b.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx, "work", creds{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Name != "work" || ev.State != clientapi.StateConnected {
			t.Fatalf("event = %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	fd.mu.Lock()
	user, prof := fd.user, fd.profile
	fd.mu.Unlock()
	if user != "alice" || prof == "" {
		t.Fatalf("daemon got user %q and %d bytes of profile", user, len(prof))
	}
	sts, err := b.Status(ctx)
	if err != nil || len(sts) != 1 || sts[0].TunnelIPv4 != "10.100.0.7" || sts[0].BytesIn != 42 {
		t.Fatalf("status = %+v, %v", sts, err)
	}
	if err := b.Disconnect(ctx, "work"); err != nil {
		t.Fatal(err)
	}
}
