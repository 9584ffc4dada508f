package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/user"
)

// Options configure Open and Start.
type Options struct {
	// NoBrowser (--no-browser) never starts a browser: Open returns a
	// *ManualError and the caller prints the URL.
	NoBrowser bool
	// Opener, when set, is the program run (as the current user, whoever
	// that is) with the URL as its only argument, in place of the
	// desktop's opener. Tests use a fake xdg-open that runs headless
	// Chromium in the foreground; nothing outside code sets it.
	Opener string
	Logger *slog.Logger
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

// Opener is a started opener process (xdg-open, open, or the browser
// itself). Start never waits for it: outside GNOME and KDE xdg-open runs
// a browser that was not already running in the foreground and only
// exits with it. The Opener's own goroutine reaps the process (no
// defunct process is left behind) and ends when the process exits; the
// caller may watch Done to learn that the opener failed.
type Opener struct {
	pid  int
	name string
	done chan struct{}
	err  error // set before done is closed
}

// PID is the opener's process ID (0 when it ran in-process).
func (o *Opener) PID() int { return o.pid }

// Done is closed when the opener has exited and was reaped.
func (o *Opener) Done() <-chan struct{} { return o.done }

// Err is why the opener failed (nil when it exited with status 0); only
// meaningful after Done is closed.
func (o *Opener) Err() error {
	select {
	case <-o.done:
		return o.err
	default:
		return nil
	}
}

// finished returns an Opener that has already ended with err.
func finished(name string, err error) *Opener {
	o := &Opener{name: name, done: make(chan struct{}), err: err}
	close(o.done)
	return o
}

// system is what the OS-specific code needs; tests replace it.
type system struct {
	geteuid    func() int
	getenv     func(string) string
	lookupUser func(string) (*user.User, error)
	exists     func(string) bool
	lookPath   func(string) (string, error)
	// run starts c detached and reaps it on the Opener's goroutine; it
	// never waits for the process.
	run func(ctx context.Context, c *command) (*Opener, error)
}

// command is an opener to run, as the current user or (AsUser) as another.
type command struct {
	Path   string
	Args   []string
	Env    []string // nil: the current environment
	AsUser bool     // run with UID, GID and Groups
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups; root's are dropped
}

// Open opens rawURL (http or https only) in the user's browser and returns
// as soon as the opener has been started.
func Open(ctx context.Context, rawURL string, opts Options) error {
	_, err := Start(ctx, rawURL, opts)
	return err
}

// Start is Open that also returns the started opener. On a *ManualError
// (or any error) the Opener is nil.
func Start(ctx context.Context, rawURL string, opts Options) (*Opener, error) {
	return start(ctx, rawURL, opts, defaultSystem())
}

func start(ctx context.Context, rawURL string, opts Options, sys system) (*Opener, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("refusing to open the IdP address: not an http(s) URL")
	}
	if opts.NoBrowser {
		return nil, &ManualError{URL: rawURL, Reason: "browser disabled (--no-browser)"}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Opener != "" {
		log.Info("opening the sign-in page", "opener", opts.Opener)
		o, err := sys.run(ctx, &command{Path: opts.Opener, Args: []string{rawURL}})
		if err != nil {
			return nil, &ManualError{URL: rawURL, Reason: fmt.Sprintf("could not start %s: %v", opts.Opener, err)}
		}
		return o, nil
	}
	return openAs(ctx, rawURL, log, sys)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
