package nstest

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/vishvananda/netns"
)

// InNS runs fn on a locked OS thread switched into network namespace ns
// and switches back afterwards. Sockets fn creates belong to ns for their
// whole life and may be used from any goroutine after InNS returns.
//
// Only the calling thread changes namespace: goroutines started by fn run
// elsewhere, and file system views (/etc/resolv.conf) are the host's. If the
// thread cannot be switched back it is discarded instead of being reused.
func InNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Without UnlockOSThread the thread exits with the goroutine; that
		// is what happens when restoring the namespace fails.
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nstest: current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nstest: namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nstest: enter namespace %s: %w", ns, err)
			return
		}
		ferr := callSafely(fn)
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("nstest: leave namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func callSafely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("nstest: panic in InNS: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}
