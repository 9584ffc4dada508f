package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// signalsKey is the context key of the wait function of handleSignals.
type signalsKey struct{}

// handleSignals returns a context that SIGINT or SIGTERM cancels, like
// signal.NotifyContext, and a stop function that unregisters the handler.
// The handler is installed on a goroutine: a process's first signal.Notify
// starts the runtime's signal thread and waits for it, about 1.2 ms on the
// 2-core lab machine, which `cvpn connect` spends parsing the profile
// instead. waitSignals blocks until the handler is in place; commands call
// it before they change anything a signal must be able to undo.
func handleSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ready := make(chan struct{})
	done := make(chan struct{})
	ch := make(chan os.Signal, 1)
	go func() {
		defer close(done)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		close(ready)
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	ctx = context.WithValue(ctx, signalsKey{}, func() { <-ready })
	stop := func() {
		cancel()
		<-done
		signal.Stop(ch)
	}
	return ctx, stop
}

// waitSignals waits until handleSignals's handler is installed; it returns
// at once for a context without one (tests).
func waitSignals(ctx context.Context) {
	if wait, ok := ctx.Value(signalsKey{}).(func()); ok {
		wait()
	}
}
