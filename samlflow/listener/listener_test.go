package listener

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const minimalResponse = `<?xml version="1.0"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`

var validValue = base64.StdEncoding.EncodeToString([]byte(minimalResponse))

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func start(t *testing.T, timeout time.Duration) *Listener {
	t.Helper()
	l, err := Listen(context.Background(), Options{Port: freePort(t), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func client() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

func postForm(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := client().PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, r *http.Response) string {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAcceptOnceThenPortReleased(t *testing.T) {
	l := start(t, time.Minute)
	u := l.URL()
	resp := postForm(t, u, url.Values{"SAMLResponse": {validValue}, "RelayState": {"r"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body(t, resp))
	}
	page := body(t, resp)
	if !strings.Contains(page, "Received the sign-in details") || !strings.Contains(page, "close this window") {
		t.Errorf("page does not tell the user: %q", page)
	}
	for k, want := range map[string]string{
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		"Content-Type":            "text/html; charset=utf-8",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := l.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != validValue {
		t.Fatalf("Wait = %q, want the posted value", got)
	}
	// The port is free again: we can bind it ourselves.
	ln, err := net.Listen("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("port not released after one assertion: %v", err)
	}
	ln.Close()
}

func TestPortClosedAfterAcceptEvenBeforeWait(t *testing.T) {
	l := start(t, time.Minute)
	resp := postForm(t, l.URL(), url.Values{"SAMLResponse": {validValue}})
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	// A second sign-in attempt cannot connect (listener socket closed).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", l.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepts connections after the assertion")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	l := start(t, time.Minute)
	for _, m := range []string{"GET", "PUT", "DELETE", "HEAD"} {
		req, _ := http.NewRequest(m, l.URL()+"/?SAMLResponse="+url.QueryEscape(validValue), nil)
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: status %d Allow %q, want 405 POST", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// Still waiting: a valid POST afterwards is accepted.
	if resp := postForm(t, l.URL(), url.Values{"SAMLResponse": {validValue}}); resp.StatusCode != 200 {
		t.Fatalf("valid POST after rejects: %d", resp.StatusCode)
	}
}

func TestOversize(t *testing.T) {
	l := start(t, time.Minute)
	// Base64 alphabet letters only, so form encoding does not grow it:
	// just over the limit in the field itself.
	big := strings.Repeat("QUFB", 128*1024/4+1)
	resp := postForm(t, l.URL(), url.Values{"SAMLResponse": {big}})
	b := body(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b, "exceeds the maximum size") {
		t.Fatalf("status %d body %q", resp.StatusCode, b)
	}
	// A body far beyond the form limit is cut off too.
	huge := strings.Repeat("A", maxBody+10)
	resp = postForm(t, l.URL(), url.Values{"SAMLResponse": {huge}})
	b = body(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b, "exceeds the maximum size") {
		t.Fatalf("huge: status %d body %q", resp.StatusCode, b)
	}
}

func TestRejectsNonSAML(t *testing.T) {
	l := start(t, time.Minute)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]struct{ value, want string }{
		"not base64":     {"%%%not base64%%%", "not valid base64"},
		"empty":          {"", "empty"},
		"not xml":        {b64("hello world"), "no root element"},
		"wrong root":     {b64(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`), "want samlp:Response"},
		"wrong ns":       {b64(`<Response xmlns="urn:example"/>`), "want samlp:Response"},
		"no ns":          {b64(`<Response/>`), "want samlp:Response"},
		"broken xml":     {b64(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`), "not well-formed"},
		"html":           {b64(`<html><body>hi</body></html>`), "want samlp:Response"},
		"undeclared pfx": {b64(`<samlp:Response/>`), "want samlp:Response"},
	}
	for name, c := range cases {
		resp := postForm(t, l.URL(), url.Values{"SAMLResponse": {c.value}})
		b := body(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, c.want) {
			t.Errorf("%s: status %d body %q, want 400 containing %q", name, resp.StatusCode, b, c.want)
		}
	}
	resp := postForm(t, l.URL(), url.Values{"Other": {"x"}})
	if b := body(t, resp); resp.StatusCode != 400 || !strings.Contains(b, "exactly one SAMLResponse") {
		t.Errorf("missing field: %d %q", resp.StatusCode, b)
	}
	resp = postForm(t, l.URL(), url.Values{"SAMLResponse": {validValue, validValue}})
	if resp.StatusCode != 400 {
		t.Errorf("two fields: %d", resp.StatusCode)
	}
	select {
	case v := <-l.result:
		t.Fatalf("a rejected request was delivered: %q", v)
	default:
	}
}

func TestTimeout(t *testing.T) {
	l := start(t, 200*time.Millisecond)
	t0 := time.Now()
	_, err := l.Wait(context.Background())
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no SAML response reached http://127.0.0.1:") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	if c, err := net.DialTimeout("tcp4", l.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after timeout")
	}
}

func TestContextCancel(t *testing.T) {
	l := start(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = Listen(context.Background(), Options{Port: port})
	if err == nil {
		t.Fatal("Listen succeeded on a busy port")
	}
	if err.Error() != "The authentication flow could not be initiated. There are no available ports." {
		t.Fatalf("message %q", err.Error())
	}
	var pb *PortBusyError
	if !errors.As(err, &pb) || !errors.Is(err, ErrNoAvailablePorts) {
		t.Fatalf("not a PortBusyError: %#v", err)
	}
	if isLinux() {
		want := "pid " + strconv.Itoa(os.Getpid())
		if !strings.HasPrefix(pb.Holder, want) {
			t.Errorf("Holder = %q, want prefix %q", pb.Holder, want)
		}
		if !strings.Contains(pb.Hint(), "is already in use by pid") {
			t.Errorf("Hint = %q", pb.Hint())
		}
	}
}

func TestPortBusyWildcard(t *testing.T) {
	// Another program on 0.0.0.0:port also blocks us (no silent sharing).
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(context.Background(), Options{Port: ln.Addr().(*net.TCPAddr).Port})
	if !errors.Is(err, ErrNoAvailablePorts) {
		t.Fatalf("err = %v", err)
	}
}

func TestOnlyLoopback127001(t *testing.T) {
	l := start(t, time.Minute)
	port := l.Addr().(*net.TCPAddr).Port
	if ip := l.Addr().(*net.TCPAddr).IP.String(); ip != "127.0.0.1" {
		t.Fatalf("bound to %s", ip)
	}
	addrs := []string{"[::1]"}
	if isLinux() {
		addrs = append(addrs, "127.0.0.2") // all of 127/8 is local on Linux
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			addrs = append(addrs, ipn.IP.String())
		}
	}
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a+":"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("listener accepted a connection on %s", a)
		}
	}
}

func TestCheckDirect(t *testing.T) {
	// Form-encoded + and / in a large base64 value still fit the body limit.
	// Bytes fb ef be encode to "++++"; only the root element is checked
	// here, so trailing bytes are allowed.
	doc := minimalResponse + strings.Repeat("\xfb\xef\xbe", 30000)
	v := base64.StdEncoding.EncodeToString([]byte(doc))
	if len(v) > 128*1024 {
		t.Fatalf("test value too large: %d", len(v))
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{"SAMLResponse": {v}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	got, status, msg := Check(httptest.NewRecorder(), req)
	if n := strings.Count(v, "+"); n < 100000 {
		t.Fatalf("want a '+'-heavy value, got %d", n)
	}
	if status != 200 || got != v {
		t.Fatalf("status %d msg %q", status, msg)
	}
}

func isLinux() bool { return runtime.GOOS == "linux" }

// TestPageWholeWhenClosedRightAfterWait: the sign-in flow closes the
// listener as soon as Wait returns the assertion; the browser must still
// get the whole thank-you page (a cut chunked body shows an error page
// instead of "You can close this window").
func TestPageWholeWhenClosedRightAfterWait(t *testing.T) {
	for i := 0; i < 20; i++ {
		l, err := Listen(context.Background(), Options{Port: freePort(t), Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			page string
			err  error
		}
		got := make(chan result, 1)
		go func() {
			resp, err := client().PostForm(l.URL(), url.Values{"SAMLResponse": {validValue}})
			if err != nil {
				got <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			got <- result{string(b), err}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = l.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		r := <-got
		if r.err != nil || !strings.Contains(r.page, "You can close this window") {
			t.Fatalf("round %d: the browser got %q, %v; want the whole thank-you page", i, r.page, r.err)
		}
	}
}
