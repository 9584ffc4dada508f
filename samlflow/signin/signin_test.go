package signin

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/samlflow/browser"
	"github.com/cvpn/cvpn/samlflow/listener"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const response = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"></samlp:Response>`

func TestSignInDeliversTheAssertion(t *testing.T) {
	port := freePort(t)
	var manualURL string
	b := &Browser{Port: port, NoBrowser: true, Timeout: 10 * time.Second,
		OnManual: func(u, _ string) { manualURL = u },
		start: func(ctx context.Context, u string, o browser.Options) (*browser.Opener, error) {
			if !o.NoBrowser {
				t.Error("NoBrowser was not passed on")
			}
			// the "browser": the IdP posts the assertion to the listener
			go func() {
				form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(response))}}
				resp, err := http.PostForm("http://127.0.0.1:"+strconv.Itoa(port)+"/", form)
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil, &browser.ManualError{URL: u, Reason: "--no-browser"}
		}}
	got, err := b.SignIn(context.Background(), "https://idp.example/sso?x=1")
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := base64.StdEncoding.DecodeString(got)
	if string(dec) != response {
		t.Fatalf("got %q", dec)
	}
	if manualURL != "https://idp.example/sso?x=1" {
		t.Fatalf("manual URL = %q", manualURL)
	}
}

func TestSignInPortBusy(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := &Browser{Port: l.Addr().(*net.TCPAddr).Port, start: func(context.Context, string, browser.Options) (*browser.Opener, error) {
		t.Error("the browser was opened although the listener could not start")
		return nil, nil
	}}
	_, err = b.SignIn(context.Background(), "https://idp.example/")
	if !errors.Is(err, listener.ErrNoAvailablePorts) && (err == nil || !strings.Contains(err.Error(), "There are no available ports.")) {
		t.Fatalf("err = %v, want the no-available-ports message", err)
	}
}

// TestSignInIdPNeverAnswers: the browser opens but the IdP never posts;
// SignIn gives up after the short timeout with a clear error and frees
// the port.
func TestSignInIdPNeverAnswers(t *testing.T) {
	port := freePort(t)
	opened := false
	b := &Browser{Port: port, Timeout: 300 * time.Millisecond,
		start: func(context.Context, string, browser.Options) (*browser.Opener, error) {
			opened = true
			return nil, nil
		}}
	start := time.Now()
	_, err := b.SignIn(context.Background(), "https://idp.example/sso")
	if !opened {
		t.Fatal("the browser was not opened")
	}
	if !errors.Is(err, listener.ErrTimeout) || !strings.Contains(err.Error(), "not completed in the browser within 300ms") {
		t.Fatalf("SignIn error = %v, want the listener timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("SignIn took %s with a 300ms timeout", d)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port not released after the timeout: %v", err)
	}
	l.Close()
}

// TestOpenURLNoBrowser: with --no-browser the pending sign-in page goes to
// OnManual (printed for the user) and OpenURL returns at once.
func TestOpenURLNoBrowser(t *testing.T) {
	var got, why string
	b := &Browser{NoBrowser: true, OnManual: func(u, r string) { got, why = u, r }}
	if err := b.OpenURL(context.Background(), "http://198.18.0.2:8080/signin?s=abc"); err != nil {
		t.Fatal(err)
	}
	if got != "http://198.18.0.2:8080/signin?s=abc" || !strings.Contains(why, "--no-browser") {
		t.Errorf("OnManual(%q, %q)", got, why)
	}
	if err := b.OpenURL(context.Background(), "file:///etc/passwd"); err == nil {
		t.Error("a file: URL was accepted")
	}
}
