//go:build unix

package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// SIGTERM cancels the command's context once waitSignals has returned, so
// `cvpn connect` disconnects cleanly instead of dying with its routes.
func TestSignalCancelsContext(t *testing.T) {
	ctx, stop := handleSignals(context.Background())
	defer stop()
	waitSignals(ctx)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}

// stop ends the handler goroutine and cancels the context; waitSignals on a
// context without a handler returns at once.
func TestSignalStop(t *testing.T) {
	ctx, stop := handleSignals(context.Background())
	waitSignals(ctx)
	stop()
	if ctx.Err() == nil {
		t.Error("context alive after stop")
	}
	waitSignals(context.Background())
}
