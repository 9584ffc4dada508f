package client_test

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestOpenVPN27WebAuth: an OpenVPN 2.7 server defers bob's sign-in
// (AUTH_PENDING, INFO_PRE,WEB_AUTH::URL, sent only because cvpn's IV_SSO
// has webauth). cvpn, with --no-browser, prints the sign-in page once (a
// web-auth event) and waits; a real headless Chromium in the client
// namespace opens it and signs in; the sign-in page tells the server,
// which then sends the configuration: cvpn connects and traffic flows.
func TestOpenVPN27WebAuth(t *testing.T) {
	if chromium.FindBinary() == "" {
		nstest.RequireBinaries(t, "chromium") // skips, or fails under CI=true
	}
	signinURL := "http://" + nstest.ServerIP.String() + ":8088/signin"
	users := []openvpnpeer.User{{Name: "bob", Password: "pw", WebAuth: signinURL}}
	srv, cl := start27(t, openvpnpeer.ServerConfig{Users: users, NoClientCert: true, Wrap: openvpnpeer.WrapTLSCrypt},
		openvpnpeer.ProfileOptions{}, "", "bob\npw\n", "--no-browser")

	// The sign-in page, served in the server namespace.
	signedIn := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><body><form id="f" method="post" action="/signin"><button id="go">Sign in</button></form></body></html>`)
	})
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.DecidePending("bob", true); err != nil {
			http.Error(w, html.EscapeString(err.Error()), http.StatusInternalServerError)
			return
		}
		signedIn <- struct{}{}
		fmt.Fprint(w, `<html><body>Signed in. You can close this window.</body></html>`)
	})
	var ln net.Listener
	if err := nstest.InNS(srv.Config.NS, func() error {
		var err error
		ln, err = net.Listen("tcp", nstest.ServerIP.String()+":8088")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `"state":"waiting-for-browser"`); err != nil {
		t.Fatalf("no waiting-for-browser state: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Log())
	}
	out := cl.Output()
	if !strings.Contains(out, `"url":"`+signinURL+`"`) || !strings.Contains(out, `"state":"waiting-for-browser"`) {
		t.Fatalf("web-auth event without the sign-in page or no waiting-for-browser state:\n%s", out)
	}
	if got := srv.AuthLog(); len(got) != 1 || got[0] != "pending bob" {
		t.Fatalf("server auth log %q: want bob's password accepted and the sign-in pending", got)
	}
	// Still waiting: not connected while nobody signed in.
	time.Sleep(2 * time.Second)
	if strings.Contains(cl.Output(), `"state":"connected"`) {
		t.Fatalf("connected before the web sign-in:\n%s", cl.Output())
	}

	var b *chromium.Browser
	if err := nstest.InNS(cl.NS, func() error {
		var err error
		b, err = chromium.Start(ctx, chromium.Options{})
		return err
	}); err != nil {
		t.Fatalf("chromium in the client namespace: %v", err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, signinURL); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.getElementById('go')`); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, `(() => { document.getElementById('go').click(); return true })()`, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-signedIn:
	case <-ctx.Done():
		t.Fatal("the browser never posted the sign-in form")
	}
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect after the web sign-in: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Log())
	}
	if n := strings.Count(cl.Output(), `"event":"web-auth"`); n != 1 {
		t.Errorf("%d web-auth events, want one browser flow", n)
	}
	if err := nstest.Ping(ctx, cl.NS, srv.TunnelIP()); err != nil {
		t.Fatalf("ping through the tunnel after the web sign-in: %v", err)
	}
}

// TestOpenVPN27CRText: an OpenVPN 2.7 server defers carol's sign-in with a
// CR_TEXT question (only because cvpn's IV_SSO has crtext); cvpn asks it
// (here answered by the credentials file's third line), sends
// CR_RESPONSE, and the server's check of the answer lets it connect.
func TestOpenVPN27CRText(t *testing.T) {
	users := []openvpnpeer.User{{Name: "carol", Password: "pw", CRText: "Favourite colour?", CRAnswer: "deep blue"}}
	srv, cl := start27(t, openvpnpeer.ServerConfig{Users: users, NoClientCert: true}, openvpnpeer.ProfileOptions{}, "", "carol\npw\ndeep blue\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect after answering CR_TEXT: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Log())
	}
	if got := strings.Join(srv.AuthLog(), ","); got != "pending carol,cr-ok carol" {
		t.Errorf("server auth log %q: want the password accepted, the question pending, then the right answer", got)
	}
	if err := nstest.Ping(ctx, cl.NS, srv.TunnelIP()); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}
}
