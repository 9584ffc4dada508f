package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cvpn/cvpn/samlflow"
	"github.com/cvpn/cvpn/samlflow/browser"
	"github.com/cvpn/cvpn/samlflow/listener"
)

// ErrCancelled is matched (errors.Is) by the error SignIn returns when its
// context was cancelled (the user cancelled or disconnected).
var ErrCancelled = errors.New("the browser sign-in was cancelled")

// ErrTimeout is matched (errors.Is) by the error SignIn returns when no
// assertion arrived in time; it is listener.ErrTimeout.
var ErrTimeout = listener.ErrTimeout

// TimeoutError says the sign-in was not completed in the browser in time.
type TimeoutError struct {
	After time.Duration
	Port  int
}

func (e *TimeoutError) Error() string {
	return "the sign-in was not completed in the browser within " + Duration(e.After) +
		" (no answer from the identity provider reached 127.0.0.1:" + strconv.Itoa(e.Port) + ")"
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Duration says d in words: "5 minutes", "1 minute", "90 seconds".
func Duration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		s := strconv.FormatInt(n, 10) + " " + unit
		if n != 1 {
			s += "s"
		}
		return s
	}
	if d >= time.Minute && d%time.Minute == 0 {
		return plural(int64(d/time.Minute), "minute")
	}
	if d >= time.Second {
		return plural(int64(d.Round(time.Second)/time.Second), "second")
	}
	return d.String()
}

// Browser signs users in through their browser.
type Browser struct {
	// NoBrowser only reports the URL (through OnManual) instead of opening it.
	NoBrowser bool
	// Port of the loopback listener; 0 means 35001.
	Port int
	// Timeout for the whole sign-in; 0 means the listener's default
	// (5 minutes).
	Timeout time.Duration
	// Opener replaces the desktop's opener (browser.Options.Opener); tests
	// use a fake xdg-open.
	Opener string
	Logger *slog.Logger
	// OnManual is told the URL when the user has to open it themselves
	// (--no-browser, running as root without SUDO_USER, no browser, or
	// the opener failed).
	OnManual func(url, reason string)
	// start replaces the browser launcher in tests.
	start func(ctx context.Context, url string, opts browser.Options) (*browser.Opener, error)
}

// ACSPort is the listener's port.
func (b *Browser) ACSPort() int {
	if b.Port != 0 {
		return b.Port
	}
	return samlflow.DefaultPort
}

func (b *Browser) timeout() time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return listener.DefaultTimeout
}

// SignIn listens, opens the URL and returns the SAMLResponse. The browser
// is never waited for: the listener waits for the assertion while the
// opener runs (a new browser may keep xdg-open in the foreground until the
// user closes it). Cancelling ctx frees the port before SignIn returns.
func (b *Browser) SignIn(ctx context.Context, url string) (string, error) {
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := listener.Listen(ctx, listener.Options{Port: b.ACSPort(), Timeout: b.timeout(), Logger: log})
	if err != nil {
		var busy *listener.PortBusyError
		if errors.As(err, &busy) {
			if h := busy.Hint(); h != "" {
				return "", fmt.Errorf("%s\n%s", busy.Error(), h)
			}
		}
		return "", err
	}
	defer l.Close()
	// The address carries no secret (the IdP's sign-in page with the
	// SAMLRequest); the user may need it to sign in by hand.
	log.Info("browser sign-in: sign-in address", "url", url)

	waitCtx, stop := context.WithCancel(ctx)
	type result struct {
		resp string
		err  error
	}
	results := make(chan result, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() {
		r, err := l.Wait(waitCtx)
		results <- result{r, err}
	})

	start := b.start
	if start == nil {
		start = browser.Start
	}
	var openerDone <-chan struct{}
	op, err := start(ctx, url, browser.Options{NoBrowser: b.NoBrowser, Opener: b.Opener, Logger: log})
	if err != nil {
		var manual *browser.ManualError
		if !errors.As(err, &manual) {
			return "", err
		}
		b.manual(log, url, manual.Reason)
	} else if op != nil {
		openerDone = op.Done()
	}
	for {
		select {
		case r := <-results:
			return b.outcome(ctx, r.resp, r.err)
		case <-openerDone:
			openerDone = nil
			if err := op.Err(); err != nil {
				b.manual(log, url, err.Error())
			}
		}
	}
}

func (b *Browser) manual(log *slog.Logger, url, reason string) {
	log.Warn("browser sign-in: open the sign-in address by hand", "reason", reason, "url", url)
	if b.OnManual != nil {
		b.OnManual(url, reason)
	}
}

// outcome turns the listener's answer into SignIn's.
func (b *Browser) outcome(ctx context.Context, resp string, err error) (string, error) {
	switch {
	case err == nil:
		return resp, nil
	case errors.Is(err, listener.ErrTimeout):
		return "", &TimeoutError{After: b.timeout(), Port: b.ACSPort()}
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return "", fmt.Errorf("the sign-in was not completed in the browser in time: %w", err)
	case ctx.Err() != nil:
		return "", ErrCancelled
	}
	return "", err
}

// OpenURL shows the sign-in page of an OpenVPN server's pending
// authentication (WEB_AUTH / OPEN_URL): the browser as the user, under the
// same rules as SignIn (never as root; the URL goes to OnManual with
// NoBrowser or when no browser can be started). It does not wait for the
// sign-in: the VPN server decides and tells the client.
func (b *Browser) OpenURL(ctx context.Context, url string) error {
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := b.start
	if start == nil {
		start = browser.Start
	}
	op, err := start(ctx, url, browser.Options{NoBrowser: b.NoBrowser, Opener: b.Opener, Logger: log})
	var manual *browser.ManualError
	switch {
	case errors.As(err, &manual):
		b.manual(log, url, manual.Reason)
		return nil
	case err != nil:
		return err
	}
	if op != nil {
		// Report an opener that fails (no browser) without waiting for it.
		go func() {
			<-op.Done()
			if err := op.Err(); err != nil {
				b.manual(log, url, err.Error())
			}
		}()
	}
	return nil
}
