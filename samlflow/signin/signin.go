package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cvpn/cvpn/samlflow"
	"github.com/cvpn/cvpn/samlflow/browser"
	"github.com/cvpn/cvpn/samlflow/listener"
)

// Browser signs users in through their browser.
type Browser struct {
	// NoBrowser only reports the URL (through OnManual) instead of opening it.
	NoBrowser bool
	// Port of the loopback listener; 0 means 35001.
	Port int
	// Timeout for the whole sign-in; 0 means the listener's default.
	Timeout time.Duration
	Logger  *slog.Logger
	// OnManual is told the URL when the user has to open it themselves
	// (--no-browser, running as root without SUDO_USER, or no browser).
	OnManual func(url, reason string)
	// open replaces the browser launcher in tests.
	open func(ctx context.Context, url string, opts browser.Options) error
}

// ACSPort is the listener's port.
func (b *Browser) ACSPort() int {
	if b.Port != 0 {
		return b.Port
	}
	return samlflow.DefaultPort
}

// SignIn listens, shows the URL and returns the SAMLResponse.
func (b *Browser) SignIn(ctx context.Context, url string) (string, error) {
	l, err := listener.Listen(ctx, listener.Options{Port: b.ACSPort(), Timeout: b.Timeout, Logger: b.Logger})
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
	open := b.open
	if open == nil {
		open = browser.Open
	}
	if err := open(ctx, url, browser.Options{NoBrowser: b.NoBrowser, Logger: b.Logger}); err != nil {
		var manual *browser.ManualError
		if !errors.As(err, &manual) {
			return "", err
		}
		if b.OnManual != nil {
			b.OnManual(url, manual.Reason)
		}
	}
	return l.Wait(ctx)
}
