package client_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// labFederation signs in at the lab IdP as alice without a browser; it
// records what it was asked. A sign-in waits for gate when set.
type labFederation struct {
	idp  *samlidp.IdP
	gate chan struct{}

	mu        sync.Mutex
	urls      []string
	responses []string
}

func (f *labFederation) ACSPort() int { return 35001 }

func (f *labFederation) SignIn(ctx context.Context, url string) (string, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	resp, err := f.idp.Respond(url, "alice", samlidp.Forge{})
	f.mu.Lock()
	f.urls = append(f.urls, url)
	f.responses = append(f.responses, resp)
	f.mu.Unlock()
	return resp, err
}

func (f *labFederation) calls() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...), append([]string(nil), f.responses...)
}

// TestReauthRequiredAfterSessionTimeout: a federated sign-in lasts the
// endpoint's session timeout (8 h, on an injected server clock). When it
// ends, the server restarts the session and refuses the auth-token; the
// client says reauth-required and runs exactly one new browser sign-in,
// with a new assertion (the spent one is never sent again).
func TestReauthRequiredAfterSessionTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idp, err := samlidp.Start(ctx, samlidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	if err := idp.AddUser(samlidp.User{Name: "alice", Password: "pw", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(meta, idp.MetadataXML, 0o600); err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return time.Now().Add(offset)
	}
	fed := &labFederation{idp: idp}
	lab := startLab(t, labOptions{now: now, federation: fed, edit: func(doc string) string {
		doc = strings.Replace(doc, "session_timeout_hours = 24", "session_timeout_hours = 8", 1)
		return strings.Replace(doc, `saml_idp_metadata = ""`, `saml_idp_metadata = "`+meta+`"`, 1)
	}})
	conn := lab.waitEvent(t, 20*time.Second, "connected event", isConnected)
	lab.pingThroughTunnel(t, conn, 1)
	if urls, _ := fed.calls(); len(urls) != 1 {
		t.Fatalf("%d browser sign-ins for the first connection, want 1", len(urls))
	}

	// A reconnect within the session timeout uses the auth-token: no browser.
	// (The network changes and the server does not answer: an immediate reconnect.)
	lab.dev.mute(true)
	lab.changes <- client.NetChange{Time: time.Now(), Address: true, Detail: "test: new network"}
	lab.waitEvent(t, 5*time.Second, "reconnecting event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventState && e.State == clientapi.StateReconnecting
	})
	lab.dev.mute(false)
	lab.waitEvent(t, 20*time.Second, "connected event after the reconnect", isConnected)
	if urls, _ := fed.calls(); len(urls) != 1 {
		t.Fatalf("a reconnect within the session timeout opened the browser (%d sign-ins)", len(urls))
	}

	// The server's clock passes the session timeout: it restarts the
	// session and refuses the auth-token.
	gate := make(chan struct{})
	fed.mu.Lock()
	fed.gate = gate
	fed.mu.Unlock()
	clockMu.Lock()
	offset = 8*time.Hour + time.Second
	clockMu.Unlock()
	lab.waitEvent(t, 20*time.Second, "reauth-required event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventReauthRequired && strings.Contains(e.Message, "sign in again")
	})
	// The lab IdP's assertions are checked by the SAML library against the
	// real time: the server's clock comes back before the user signs in.
	clockMu.Lock()
	offset = 0
	clockMu.Unlock()
	close(gate)
	conn = lab.waitEvent(t, 20*time.Second, "connected event after signing in again", isConnected)
	lab.pingThroughTunnel(t, conn, 2)
	urls, resps := fed.calls()
	if len(urls) != 2 {
		t.Fatalf("%d browser sign-ins, want exactly 2 (the first and the one after the timeout)", len(urls))
	}
	if urls[0] == urls[1] || resps[0] == resps[1] {
		t.Fatal("the second sign-in reused the first request or assertion")
	}
}
