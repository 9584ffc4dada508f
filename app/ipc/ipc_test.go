package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// fakeHandler records requests and lets tests drive the front end.
type fakeHandler struct {
	mu      sync.Mutex
	peers   []Peer
	fe      FrontEnd
	connect func(fe FrontEnd, name, text string, bind bool) error
	subs    []func(string, clientapi.Event)
}

func (h *fakeHandler) Status(p Peer) []Status {
	h.mu.Lock()
	h.peers = append(h.peers, p)
	h.mu.Unlock()
	return []Status{{Name: "work", OwnerUID: 1000, State: clientapi.StateConnected, TunnelIPv4: "10.8.0.2", BytesIn: 7, BytesOut: 9}}
}

func (h *fakeHandler) Connect(_ context.Context, fe FrontEnd, name, text string, bind bool) error {
	h.mu.Lock()
	h.fe = fe
	h.mu.Unlock()
	if h.connect != nil {
		return h.connect(fe, name, text, bind)
	}
	return nil
}

func (h *fakeHandler) Disconnect(p Peer, name string, all bool) ([]string, error) {
	if name == "work" {
		return []string{"work"}, nil
	}
	return nil, &Error{Code: CodeNotFound, Message: "no connection named " + name}
}

func (h *fakeHandler) Subscribe(fn func(string, clientapi.Event)) func() {
	h.mu.Lock()
	h.subs = append(h.subs, fn)
	h.mu.Unlock()
	return func() {}
}

// startServer serves h on a socket in a temporary folder.
func startServer(t *testing.T, h Handler) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no Windows transport")
	}
	dir, err := os.MkdirTemp("", "cvpn-ipc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "cvpn.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{Handler: h, CredentialTimeout: 5 * time.Second}
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return path
}

func dialT(t *testing.T, path string, o ClientOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestListenPermissionsAndPeer(t *testing.T) {
	h := &fakeHandler{}
	path := startServer(t, h)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want socket 0666", st.Mode())
	}
	dst, err := os.Stat(filepath.Dir(path))
	if err != nil || dst.Mode().Perm() != 0o755 {
		t.Errorf("socket folder mode %v (%v), want 0755", dst.Mode(), err)
	}
	c := dialT(t, path, ClientOptions{})
	list, err := c.Status(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "work" || list[0].TunnelIPv4 != "10.8.0.2" || list[0].BytesOut != 9 {
		t.Errorf("status = %+v", list)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.peers) != 1 || h.peers[0].UID != os.Getuid() || h.peers[0].PID != os.Getpid() {
		t.Errorf("peer = %+v, want uid %d pid %d", h.peers, os.Getuid(), os.Getpid())
	}
}

func TestListenRefusesSecondDaemonAndReplacesStaleSocket(t *testing.T) {
	path := startServer(t, &fakeHandler{})
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("second Listen: %v, want already listening", err)
	}
	// A stale socket (nobody listening) is replaced.
	stale := filepath.Join(filepath.Dir(path), "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	l, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket not removed on Close: %v", err)
	}
	// A regular file is never replaced.
	file := filepath.Join(filepath.Dir(path), "file")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
}

func TestDialNotRunning(t *testing.T) {
	_, err := Dial(tctx(t), filepath.Join(t.TempDir(), "none.sock"), ClientOptions{})
	if !IsNotRunning(err) || !strings.Contains(err.Error(), "cvpn daemon is not running") || !strings.Contains(err.Error(), "cvpn daemon") {
		t.Fatalf("Dial: %v, want NotRunningError", err)
	}
}

func TestErrorResponses(t *testing.T) {
	c := dialT(t, startServer(t, &fakeHandler{}), ClientOptions{})
	names, err := c.Disconnect(tctx(t), "work", false)
	if err != nil || len(names) != 1 || names[0] != "work" {
		t.Fatalf("Disconnect work = %v, %v", names, err)
	}
	_, err = c.Disconnect(tctx(t), "home", false)
	if ErrorCode(err) != CodeNotFound || err.Error() != "no connection named home" {
		t.Fatalf("Disconnect home: %v (code %q)", err, ErrorCode(err))
	}
	_, err = c.call(tctx(t), &Message{Type: "reboot"})
	if ErrorCode(err) != CodeBadRequest || !strings.Contains(err.Error(), `"reboot"`) {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestWrongVersionClosesConnection(t *testing.T) {
	path := startServer(t, &fakeHandler{})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(`{"v":99,"id":4,"type":"status"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	dec := newDecoder(conn, "test")
	m, err := dec.read()
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 4 || m.OK || m.Code != CodeBadRequest || !strings.Contains(m.Error, "protocol version 99") {
		t.Fatalf("response %+v", m)
	}
	if _, err := dec.read(); err == nil {
		t.Fatal("connection still open after a wrong version")
	}
}

func TestConnectEventsAndEnded(t *testing.T) {
	h := &fakeHandler{}
	h.connect = func(fe FrontEnd, name, text string, bind bool) error {
		if name != "work" || text != "client\nremote vpn.example 443\n" || !bind {
			return &Error{Code: CodeBadRequest, Message: "unexpected connect " + name}
		}
		go func() {
			fe.Event(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnecting, Server: "vpn.example"})
			fe.Event(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, TunnelIPv4: "10.8.0.2"})
			fe.Ended(name, Result{Reason: "authentication failed", AuthFailed: true})
		}()
		return nil
	}
	var mu sync.Mutex
	var got []string
	ended := make(chan Result, 1)
	c := dialT(t, startServer(t, h), ClientOptions{
		Events: func(name string, ev clientapi.Event) {
			mu.Lock()
			got = append(got, name+":"+string(ev.State)+":"+ev.TunnelIPv4)
			mu.Unlock()
		},
		Ended: func(name string, r Result) { ended <- r },
	})
	if err := c.Connect(tctx(t), "work", []byte("client\nremote vpn.example 443\n"), true); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		if !r.AuthFailed || r.Reason != "authentication failed" {
			t.Errorf("result %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ended message")
	}
	mu.Lock()
	defer mu.Unlock()
	want := "work:connecting:,work:connected:10.8.0.2"
	if strings.Join(got, ",") != want {
		t.Errorf("events %q, want %q", strings.Join(got, ","), want)
	}
}

func TestSubscribe(t *testing.T) {
	h := &fakeHandler{}
	evs := make(chan string, 4)
	c := dialT(t, startServer(t, h), ClientOptions{Events: func(name string, ev clientapi.Event) { evs <- name + ":" + ev.Message }})
	if err := c.Subscribe(tctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(tctx(t)); err != nil { // twice: one subscription
		t.Fatal(err)
	}
	h.mu.Lock()
	subs := h.subs
	h.mu.Unlock()
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions, want 1", len(subs))
	}
	subs[0]("lab", clientapi.Event{Event: clientapi.EventError, Message: "boom"})
	select {
	case s := <-evs:
		if s != "lab:boom" {
			t.Errorf("event %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

type fixedCreds struct{ user, pass, code string }

func (f fixedCreds) UserPass(ctx context.Context, reason string) (string, string, error) {
	if reason != "try again" {
		return "", "", errors.New("unexpected reason " + reason)
	}
	return f.user, f.pass, nil
}

func (f fixedCreds) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	if text != "Enter MFA code" || !echo {
		return "", errors.New("unexpected challenge")
	}
	return f.code, nil
}

func TestCredentialRoundTrip(t *testing.T) {
	h := &fakeHandler{}
	type answers struct {
		user, pass, code string
		err              error
	}
	res := make(chan answers, 1)
	h.connect = func(fe FrontEnd, name, _ string, _ bool) error {
		go func() {
			cr := fe.Credentials(name)
			ctx := context.Background()
			u, p, err := cr.UserPass(ctx, "try again")
			if err != nil {
				res <- answers{err: err}
				return
			}
			code, err := cr.Challenge(ctx, "Enter MFA code", true)
			res <- answers{u, p, code, err}
		}()
		return nil
	}
	asked := make(chan string, 4)
	c := dialT(t, startServer(t, h), ClientOptions{Credentials: func(name string) clientapi.Credentials {
		asked <- name
		return fixedCreds{"alice", "s3cret pass", "123456"}
	}})
	if err := c.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-res:
		if a.err != nil || a.user != "alice" || a.pass != "s3cret pass" || a.code != "123456" {
			t.Fatalf("answers %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answers")
	}
	if n := <-asked; n != "work" {
		t.Errorf("asked for %q", n)
	}
}

func TestCredentialsWithoutPromptAndGoneFrontEnd(t *testing.T) {
	h := &fakeHandler{}
	res := make(chan error, 2)
	release := make(chan struct{})
	h.connect = func(fe FrontEnd, name, _ string, _ bool) error {
		go func() {
			_, _, err := fe.Credentials(name).UserPass(context.Background(), "")
			res <- err
			<-release
			_, err = fe.Credentials(name).Challenge(context.Background(), "code", false)
			res <- err
		}()
		return nil
	}
	c := dialT(t, startServer(t, h), ClientOptions{})
	if err := c.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	err := <-res
	if err == nil || !strings.Contains(err.Error(), "no way to ask for credentials") {
		t.Fatalf("UserPass without a prompt: %v", err)
	}
	c.Close()
	h.mu.Lock()
	fe := h.fe
	h.mu.Unlock()
	select {
	case <-fe.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("front end not done after Close")
	}
	close(release)
	select {
	case err := <-res:
		if err == nil || !strings.Contains(err.Error(), "has gone") {
			t.Fatalf("Challenge after the front end left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("question to a gone front end did not fail")
	}
}

func TestMessageLogValueHidesSecrets(t *testing.T) {
	m := Message{Type: TypeCredentialsAnswer, CredID: 3, User: "alice", Password: "hunter2", Answer: "654321", Profile: "<key>PRIVATE</key>"}
	s := m.String()
	for _, secret := range []string{"hunter2", "654321", "PRIVATE"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q shows %q", s, secret)
		}
	}
	if !strings.Contains(s, "credentials-answer") || !strings.Contains(s, "cred_id=3") {
		t.Errorf("LogValue %q lacks type or id", s)
	}
}

func TestDecoderLimits(t *testing.T) {
	long := strings.Repeat("x", MaxMessageSize+10)
	d := newDecoder(strings.NewReader(long+"\n"), "peer-x")
	if _, err := d.read(); err == nil || !strings.Contains(err.Error(), "longer than") || !strings.Contains(err.Error(), "peer-x") {
		t.Fatalf("long line: %v", err)
	}
	d = newDecoder(strings.NewReader("{\"v\":1}\n{nope\n"), "peer-y")
	if _, err := d.read(); err == nil || !strings.Contains(err.Error(), "no type") {
		t.Fatalf("no type: %v", err)
	}
	if _, err := d.read(); err == nil || !strings.Contains(err.Error(), "peer-y: message 2") {
		t.Fatalf("bad json: %v", err)
	}
}

type fakeFederation struct{ urls chan string }

func (f fakeFederation) SignIn(_ context.Context, url string) (string, error) {
	f.urls <- url
	return "PHNhbWxwOlJlc3BvbnNlLz4=", nil
}

func (fakeFederation) ACSPort() int { return 1 }

// TestSAMLRoundTrip: the daemon side's credentials are a clientapi.Federation
// that asks the front end ("saml" question); the front end runs its own
// Federation and returns the SAMLResponse; non-http(s) URLs are refused
// before anything is opened; a front end without Federation says so.
func TestSAMLRoundTrip(t *testing.T) {
	h := &fakeHandler{}
	type result struct {
		resp string
		port int
		err  error
	}
	res := make(chan result, 4)
	h.connect = func(fe FrontEnd, name, _ string, _ bool) error {
		go func() {
			fed, ok := fe.Credentials(name).(clientapi.Federation)
			if !ok {
				res <- result{err: errors.New("ipc credentials are not a clientapi.Federation")}
				return
			}
			for _, u := range []string{"https://idp.example/sso?SAMLRequest=x%3D", "file:///etc/passwd"} {
				r, err := fed.SignIn(context.Background(), u)
				res <- result{r, fed.ACSPort(), err}
			}
		}()
		return nil
	}
	urls := make(chan string, 2)
	c := dialT(t, startServer(t, h), ClientOptions{Federation: func(name string) clientapi.Federation {
		if name != "work" {
			return nil
		}
		return fakeFederation{urls}
	}})
	if err := c.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	get := func() result {
		select {
		case r := <-res:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no sign-in result")
			return result{}
		}
	}
	if r := get(); r.err != nil || r.resp != "PHNhbWxwOlJlc3BvbnNlLz4=" || r.port != 35001 {
		t.Fatalf("sign-in through the front end = %+v", r)
	}
	if u := <-urls; u != "https://idp.example/sso?SAMLRequest=x%3D" {
		t.Errorf("front end opened %q", u)
	}
	if r := get(); r.err == nil || !strings.Contains(r.err.Error(), "not an http(s) URL") {
		t.Errorf("file: URL: %+v", r)
	}
	select {
	case u := <-urls:
		t.Errorf("front end opened %q", u)
	default:
	}

	// A front end without Federation.
	c2 := dialT(t, startServer(t, h), ClientOptions{})
	if err := c2.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.err == nil || !strings.Contains(r.err.Error(), "cannot run a browser sign-in") {
		t.Errorf("front end without federation: %+v", r)
	}
}

// webFederation is a front end's Federation that also shows web sign-in
// pages (clientapi.WebAuth), as signin.Browser does.
type webFederation struct {
	fakeFederation
	opened chan string
}

func (f webFederation) OpenURL(_ context.Context, url string) error {
	f.opened <- url
	return nil
}

// TestWebAuthRoundTrip: the daemon side's credentials are a
// clientapi.WebAuth that asks the owning front end ("web-auth" question)
// to show the server's sign-in page; the front end's Federation opens it
// (its OpenURL sees the address once), a non-http(s) address is refused
// before anything is opened, a front end that cannot open pages says so,
// and a server's CR_TEXT question reaches the front end's Challenge.
func TestWebAuthRoundTrip(t *testing.T) {
	h := &fakeHandler{}
	errs := make(chan error, 4)
	answers := make(chan string, 1)
	h.connect = func(fe FrontEnd, name, _ string, _ bool) error {
		go func() {
			wa, ok := fe.Credentials(name).(clientapi.WebAuth)
			if !ok {
				errs <- errors.New("ipc credentials are not a clientapi.WebAuth")
				return
			}
			for _, u := range []string{"http://10.8.0.1:8080/signin/abc", "javascript:alert(1)"} {
				errs <- wa.OpenURL(context.Background(), u)
			}
			a, err := fe.Credentials(name).Challenge(context.Background(), "Your PIN?", true)
			if err != nil {
				a = "error: " + err.Error()
			}
			answers <- a
		}()
		return nil
	}
	opened := make(chan string, 2)
	challenges := make(chan string, 1)
	c := dialT(t, startServer(t, h), ClientOptions{
		Federation: func(string) clientapi.Federation { return webFederation{opened: opened} },
		Credentials: func(string) clientapi.Credentials {
			return fakeCreds{challenge: func(text string, echo bool) (string, error) {
				challenges <- fmt.Sprintf("%s echo=%v", text, echo)
				return "4321", nil
			}}
		},
	})
	if err := c.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		select {
		case err := <-errs:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no answer to the web-auth question")
			return nil
		}
	}
	if err := get(); err != nil {
		t.Fatalf("web-auth through the front end: %v", err)
	}
	if u := <-opened; u != "http://10.8.0.1:8080/signin/abc" {
		t.Errorf("front end opened %q", u)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Errorf("javascript: URL: %v", err)
	}
	select {
	case u := <-opened:
		t.Errorf("front end opened %q", u)
	default:
	}
	select {
	case a := <-answers:
		if a != "4321" {
			t.Errorf("CR_TEXT answer %q, want 4321", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no CR_TEXT answer")
	}
	if q := <-challenges; q != "Your PIN? echo=true" {
		t.Errorf("front end was asked %q", q)
	}

	// A front end whose Federation cannot open pages (SAML only).
	c2 := dialT(t, startServer(t, h), ClientOptions{Federation: func(string) clientapi.Federation { return fakeFederation{} }})
	if err := c2.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "cannot open a sign-in page") {
		t.Errorf("front end without web sign-in: %v", err)
	}
	<-errs // the second URL
}

// fakeCreds answers challenges with a function and refuses passwords.
type fakeCreds struct {
	challenge func(text string, echo bool) (string, error)
}

func (fakeCreds) UserPass(context.Context, string) (string, string, error) {
	return "", "", errors.New("no password here")
}

func (f fakeCreds) Challenge(_ context.Context, text string, echo bool) (string, error) {
	return f.challenge(text, echo)
}
