package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"
)

// DialMany opens n sessions with Dial, at most parallel at a time, each
// dial bounded by perDial. It returns every session opened (nil where a
// dial failed, so the caller closes the others) and, if any failed, an
// error counting the failures and naming the first.
func DialMany(cfg Config, n, parallel int, perDial time.Duration) ([]*Session, error) {
	sessions := make([]*Session, n)
	errs := make([]error, n)
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), perDial)
			defer cancel()
			sessions[i], errs[i] = Dial(ctx, cfg)
		}()
	}
	wg.Wait()
	var first error
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 {
		return sessions, fmt.Errorf("loadgen: %d of %d sessions failed; the first: %w", failed, n, first)
	}
	return sessions, nil
}
