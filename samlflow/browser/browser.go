package browser

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"os/user"
)

// Options configure Open.
type Options struct {
	// NoBrowser (--no-browser) never starts a browser: Open returns a
	// *ManualError and the caller prints the URL.
	NoBrowser bool
	Logger    *slog.Logger
}

// ManualError means the user must open URL themselves; Error() says so
// and includes the URL (which carries no secret: it is the IdP's sign-in
// address with the SAMLRequest).
type ManualError struct {
	URL    string
	Reason string
}

func (e *ManualError) Error() string {
	return e.Reason + "; open this address in your browser to sign in: " + e.URL
}

// system is what the OS-specific code needs; tests replace it.
type system struct {
	geteuid    func() int
	getenv     func(string) string
	lookupUser func(string) (*user.User, error)
	exists     func(string) bool
	run        func(ctx context.Context, c *command) error // start, do not wait for the browser
	openURL    func(string) error                          // unprivileged open (pkg/browser)
}

// command is an opener to run as another user.
type command struct {
	Path   string
	Args   []string
	Env    []string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups; root's are dropped
}

// Open opens rawURL (http or https only) in the user's browser.
func Open(ctx context.Context, rawURL string, opts Options) error {
	return open(ctx, rawURL, opts, defaultSystem())
}

func open(ctx context.Context, rawURL string, opts Options, sys system) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("refusing to open the IdP address: not an http(s) URL")
	}
	if opts.NoBrowser {
		return &ManualError{URL: rawURL, Reason: "browser disabled (--no-browser)"}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return openAs(ctx, rawURL, log, sys)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
