package daemonbackend

import (
	"context"
	"errors"
	"testing"
	"time"
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
