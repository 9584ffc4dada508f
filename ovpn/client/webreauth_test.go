package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// webUser signs in on the server's web sign-in pages without a browser:
// OpenURL records the page and, once gate (when set) is open, posts the
// password to it as the user would.
type webUser struct {
	password string

	mu   sync.Mutex
	gate chan struct{}
	urls []string
	errs []error
	wg   sync.WaitGroup // the sign-ins in flight
}

func (w *webUser) ACSPort() int { return 35001 }

func (w *webUser) SignIn(context.Context, string) (string, error) {
	return "", errors.New("not a SAML profile")
}

func (w *webUser) OpenURL(_ context.Context, page string) error {
	w.mu.Lock()
	w.urls = append(w.urls, page)
	gate := w.gate
	w.mu.Unlock()
	w.wg.Go(func() {
		if gate != nil {
			select {
			case <-gate:
			case <-time.After(30 * time.Second):
				return
			}
		}
		resp, err := http.PostForm(page, url.Values{"password": {w.password}})
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s: %s", page, resp.Status)
			}
		}
		if err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, err)
			w.mu.Unlock()
		}
	})
	return nil
}

func (w *webUser) pages() ([]string, []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.urls...), append([]error(nil), w.errs...)
}

type passwordOnly struct{ user, pass string }

func (p passwordOnly) UserPass(context.Context, string) (string, string, error) {
	return p.user, p.pass, nil
}
func (p passwordOnly) Challenge(context.Context, string, bool) (string, error) {
	return "", errors.New("no challenge expected")
}

// TestWebSignInReauthRequiredAfterSessionTimeout: a web sign-in (WEB_AUTH,
// cvpn server's web_auth) lasts the session timeout (8 h, on an injected
// server clock). When the server restarts the session, a new session
// refuses the old auth-token and shows a new sign-in page: the client
// says reauth-required once and shows exactly one new page, never the
// spent one, and traffic flows again after the user signs in there.
func TestWebSignInReauthRequiredAfterSessionTimeout(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-alice"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.toml")
	if err := os.WriteFile(users, fmt.Appendf(nil, "[[user]]\nname = \"alice\"\npassword_bcrypt = %q\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return time.Now().Add(offset)
	}
	web := &webUser{password: "pw-alice"}
	t.Cleanup(web.wg.Wait)
	webPort := freeTCPPort(t)
	lab := startLab(t, labOptions{now: now, federation: web, credentials: passwordOnly{"alice", "pw-alice"}, edit: func(doc string) string {
		doc = strings.Replace(doc, "session_timeout_hours = 24", "session_timeout_hours = 8", 1)
		doc = strings.Replace(doc, "mutual = true", "mutual = false", 1)
		doc = strings.Replace(doc, `users_file = ""`, fmt.Sprintf("users_file = %q", users), 1)
		return strings.Replace(doc, "web_auth = false", fmt.Sprintf("web_auth = true\nweb_auth_listen = \"127.0.0.1:%d\"", webPort), 1)
	}})
	conn := lab.waitEvent(t, 30*time.Second, "connected event", isConnected)
	lab.pingThroughTunnel(t, conn, 1)
	if pages, errs := web.pages(); len(pages) != 1 || len(errs) != 0 {
		t.Fatalf("first connection: pages %v, errors %v; want one page signed in", pages, errs)
	}

	gate := make(chan struct{})
	web.mu.Lock()
	web.gate = gate
	web.mu.Unlock()
	clockMu.Lock()
	offset = 8*time.Hour + time.Second
	clockMu.Unlock()
	lab.waitEvent(t, 20*time.Second, "reauth-required event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventReauthRequired && strings.Contains(e.Message, "sign in again")
	})
	lab.waitEvent(t, 20*time.Second, "web-auth event for the new page", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventWebAuth
	})
	close(gate)
	conn = lab.waitEvent(t, 30*time.Second, "connected event after signing in again", isConnected)
	lab.pingThroughTunnel(t, conn, 2)
	pages, errs := web.pages()
	if len(pages) != 2 || len(errs) != 0 {
		t.Fatalf("pages %v, errors %v; want exactly 2 (the first and the one after the timeout), both signed in", pages, errs)
	}
	if pages[0] == pages[1] {
		t.Fatal("the spent sign-in page was shown again")
	}
	n := 0
	lab.mu.Lock()
	for _, e := range lab.events {
		if e.Event == clientapi.EventReauthRequired {
			n++
		}
	}
	lab.mu.Unlock()
	if n != 1 {
		t.Errorf("%d reauth-required events, want 1", n)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
