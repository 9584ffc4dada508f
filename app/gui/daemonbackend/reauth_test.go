package daemonbackend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/samlflow/signin"
)

// TestSignInAgainLetsExactlyOneSignInThrough: after reauth-required the
// connection's sign-ins wait; pressing "Sign in again" twice while two
// sign-ins overlap lets exactly one through; the other ends with its
// context (in the app: the newer request cancels the older one).
func TestSignInAgainLetsExactlyOneSignInThrough(t *testing.T) {
	b := &Backend{}
	if err := b.reauth.wait(context.Background(), "work"); err != nil {
		t.Fatalf("a sign-in without reauth-required waited: %v", err)
	}
	if b.SignInAgain("work") {
		t.Fatal("SignInAgain opened a gate nobody armed")
	}
	b.reauth.arm("work")
	b.reauth.arm("work") // a repeated event arms nothing more
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	through := make(chan int, 2)
	ended := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			if err := b.reauth.wait(ctx, "work"); err != nil {
				ended <- err
				return
			}
			through <- i
		}()
	}
	select {
	case <-through:
		t.Fatal("a sign-in started before the user asked")
	case <-time.After(100 * time.Millisecond):
	}
	if !b.SignInAgain("work") {
		t.Fatal("SignInAgain found no armed gate")
	}
	b.SignInAgain("work") // pressed twice
	select {
	case <-through:
	case <-time.After(5 * time.Second):
		t.Fatal("no sign-in started after Sign in again")
	}
	select {
	case i := <-through:
		t.Fatalf("a second sign-in (%d) started", i)
	case <-time.After(200 * time.Millisecond):
	}
	cause := errors.New("replaced by a newer sign-in")
	cancel(cause)
	select {
	case err := <-ended:
		if !errors.Is(err, cause) {
			t.Errorf("the held sign-in ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held sign-in did not end with its context")
	}
	// The gate is used up: a later sign-in (the next expiry is a new
	// event) does not wait.
	if err := b.reauth.wait(context.Background(), "work"); err != nil {
		t.Fatalf("a later sign-in waited: %v", err)
	}
}

// TestWebSignInAgainOpensOnePage: after reauth-required the server's web
// sign-in pages (ipc "web-auth" questions) wait for "Sign in again"; when
// two overlap, the newer replaces the older (which ends without opening
// anything), and pressing twice opens exactly one page, the newer one.
// Without reauth-required a page opens at once; Ended abandons a waiting
// page.
func TestWebSignInAgainOpensOnePage(t *testing.T) {
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	opener := filepath.Join(dir, "opener")
	if err := os.WriteFile(opener, []byte("#!/bin/sh\necho \"$1\" >> '"+opened+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Backend{SignIn: signin.Browser{Opener: opener}}
	fed := &federation{b: b, name: "work"}
	pages := func(want int) []string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			data, _ := os.ReadFile(opened)
			lines := strings.Fields(string(data))
			if len(lines) >= want || time.Now().After(deadline) {
				return lines
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := fed.OpenURL(context.Background(), "http://10.8.0.1:8080/signin/first"); err != nil {
		t.Fatal(err)
	}
	if got := pages(1); len(got) != 1 || got[0] != "http://10.8.0.1:8080/signin/first" {
		t.Fatalf("pages opened: %v", got)
	}

	b.reauth.arm("work")
	results := make(chan error, 2)
	go func() { results <- fed.OpenURL(context.Background(), "http://10.8.0.1:8080/signin/spent") }()
	time.Sleep(100 * time.Millisecond)
	go func() { results <- fed.OpenURL(context.Background(), "http://10.8.0.1:8080/signin/second") }()
	select {
	case err := <-results:
		if !errors.Is(err, errUserCancelled) {
			t.Fatalf("the replaced page ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the older page was not replaced")
	}
	if got := pages(1); len(got) != 1 {
		t.Fatalf("a page opened before Sign in again: %v", got)
	}
	b.SignInAgain("work")
	b.SignInAgain("work")
	select {
	case err := <-results:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no page opened after Sign in again")
	}
	time.Sleep(200 * time.Millisecond)
	if got := pages(2); len(got) != 2 || got[1] != "http://10.8.0.1:8080/signin/second" {
		t.Fatalf("pages opened: %v, want the first and then only the newer one", got)
	}

	// The connection ends while a page waits: it ends, nothing opens.
	b.reauth.arm("work")
	go func() { results <- fed.OpenURL(context.Background(), "http://10.8.0.1:8080/signin/late") }()
	time.Sleep(100 * time.Millisecond)
	b.reauth.drop("work")
	b.abandonSignIn("work")
	select {
	case err := <-results:
		if !errors.Is(err, errConnectionEnded) {
			t.Fatalf("the abandoned page ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the page of an ended connection still waits")
	}
	if got := pages(2); len(got) != 2 {
		t.Fatalf("pages opened: %v", got)
	}
}
