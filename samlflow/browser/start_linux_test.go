package browser

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeOpener writes an executable fake xdg-open into dir.
func writeOpener(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "xdg-open")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// reaped reports whether pid is gone for good (not even a zombie).
func reaped(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return os.IsNotExist(err)
}

// TestStartDoesNotWaitForForegroundOpener: like xdg-open outside GNOME and
// KDE, the fake opener keeps running until "the browser" exits. Start must
// return at once, and once the opener ends it is reaped (no defunct
// process), without anybody calling Wait.
func TestStartDoesNotWaitForForegroundOpener(t *testing.T) {
	dir := t.TempDir()
	opener := writeOpener(t, dir, `echo "$1" > `+dir+`/url
exec sleep 60
`)
	t0 := time.Now()
	o, err := Start(context.Background(), idpURL, Options{Opener: opener})
	if err != nil {
		t.Fatal(err)
	}
	pid := o.PID()
	defer syscall.Kill(-pid, syscall.SIGKILL) // its own session and process group
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Start waited %s for an opener that runs in the foreground", d)
	}
	select {
	case <-o.Done():
		t.Fatalf("opener ended early: %v", o.Err())
	default:
	}
	// The URL reached the opener.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "url"))
		if strings.TrimSpace(string(b)) == idpURL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the opener never got the URL (got %q)", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// "The user closes the browser."
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the opener was not reaped 5 s after it ended")
	}
	if !reaped(pid) {
		t.Fatalf("pid %d is still in /proc after it ended (defunct)", pid)
	}
}

// TestStartReportsFailedOpener: xdg-open's "no browser" status comes back
// through Done/Err in words.
func TestStartReportsFailedOpener(t *testing.T) {
	opener := writeOpener(t, t.TempDir(), "exit 3\n")
	o, err := Start(context.Background(), idpURL, Options{Opener: opener})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("opener not reaped")
	}
	if err := o.Err(); err == nil || !strings.Contains(err.Error(), "found no web browser") {
		t.Fatalf("Err = %v, want the no-browser explanation", err)
	}
	if !reaped(o.PID()) {
		t.Fatal("failed opener left a defunct process")
	}
}
