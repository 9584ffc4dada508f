package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/users"
)

// webAuth is the reference server's web sign-in (web_auth = true): each
// pending connection gets a page /signin/TOKEN where the user signs in
// with the password again; the session waits for that decision.
type webAuth struct {
	base string // http://public-host:port
	dir  *users.Directory
	now  func() time.Time

	mu      sync.Mutex
	pending map[string]*pendingSignIn
}

// pendingSignIn is one connection waiting for its web sign-in.
type pendingSignIn struct {
	user    string
	decided chan struct{} // closed when signed in
	once    sync.Once
}

// maxSignInForm bounds the sign-in form's body.
const maxSignInForm = 4 << 10

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cvpn sign-in</title></head><body>
<h1>Sign in to the VPN</h1>
{{if .Done}}<p id="done">Signed in as {{.User}}. The VPN connection continues; you can close this window.</p>
{{else}}<form id="signin" method="post"><p>User: <b>{{.User}}</b></p>
<p><label>Password <input type="password" name="password" autofocus></label></p>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<button id="go" type="submit">Sign in</button></form>{{end}}
</body></html>`))

// serveWebAuth starts the sign-in page on addr; the returned function
// stops it.
func (s *Server) serveWebAuth(addr string, dir *users.Directory) (func() error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("authentication.web_auth_listen: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	w := &webAuth{base: "http://" + net.JoinHostPort(s.cfg.PublicHost(), strconv.Itoa(port)), dir: dir, now: s.now,
		pending: map[string]*pendingSignIn{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/signin/{token}", w.handle)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.web = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("web sign-in page", "err", err)
		}
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), metricsDrain)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			return errors.Join(fmt.Errorf("web sign-in page: %w", err), hs.Close())
		}
		return nil
	}, nil
}

// add registers a pending sign-in and returns its page's URL.
func (w *webAuth) add(user string) (string, *pendingSignIn) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	p := &pendingSignIn{user: user, decided: make(chan struct{})}
	w.mu.Lock()
	w.pending[token] = p
	w.mu.Unlock()
	return w.base + "/signin/" + token, p
}

func (w *webAuth) remove(url string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t := range w.pending {
		if w.base+"/signin/"+t == url {
			delete(w.pending, t)
		}
	}
}

func (w *webAuth) handle(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	p := w.pending[r.PathValue("token")]
	w.mu.Unlock()
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	if p == nil {
		http.Error(rw, "This sign-in link is unknown or has expired; connect again.", http.StatusNotFound)
		return
	}
	data := struct {
		User, Error string
		Done        bool
	}{User: p.user}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(rw, r.Body, maxSignInForm)
		if err := r.ParseForm(); err != nil {
			http.Error(rw, "bad form", http.StatusBadRequest)
			return
		}
		if _, err := w.dir.Authenticate(p.user, r.PostForm.Get("password"), w.now()); err != nil {
			data.Error = "Wrong password."
		} else {
			data.Done = true
			p.once.Do(func() { close(p.decided) })
		}
	} else if r.Method != http.MethodGet {
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = signInPage.Execute(rw, data)
}

// webSignIn runs the web sign-in of a new connection when web_auth is on:
// AUTH_PENDING with the server's timeout (what is left of the hand-window)
// and INFO_PRE,WEB_AUTH with the page, then it waits for the user. A
// client without webauth in IV_SSO is refused with a reason it can show.
func (ss *session) webSignIn(ctx context.Context) error {
	w := ss.srv.web
	if w == nil {
		return nil
	}
	if !slices.Contains(ss.pi.SSO(), "webauth") {
		return ss.refuse(&AuthError{ClientMessage: "this VPN requires a web sign-in and the client does not support it (IV_SSO webauth)",
			Reason: "web-auth-unsupported", Err: errors.New("client without webauth in IV_SSO")})
	}
	url, p := w.add(ss.username)
	defer w.remove(url)
	wait := 60 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) - 2*time.Second
	}
	if wait < time.Second {
		return ss.refuse(&AuthError{Reason: "web-auth-timeout", Err: errors.New("no time left for the web sign-in")})
	}
	ss.sendMessage(fmt.Sprintf("AUTH_PENDING,timeout %d", int(wait/time.Second)))
	ss.sendMessage("INFO_PRE,WEB_AUTH::" + url)
	ss.log.Info("waiting for the web sign-in", "user", ss.username, "timeout", wait.Round(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-p.decided:
			ss.log.Info("web sign-in completed", "user", ss.username)
			return nil
		case <-t.C:
			return ss.refuse(&AuthError{ClientMessage: "the web sign-in was not completed in time", Reason: "web-auth-timeout",
				Err: errors.New("web sign-in not completed")})
		case <-ctx.Done():
			return ctx.Err()
		case <-ss.msgs:
			// PUSH_REQUESTs while pending: establish answers the next one.
		}
	}
}
