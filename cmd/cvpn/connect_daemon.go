package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cvpn/cvpn/app/credentials"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/samlflow/signin"
)

// connectViaDaemon connects through the cvpn daemon (no privileges needed):
// it sends the profile text, answers the daemon's credential questions on
// the terminal or from authFile, prints the events, and disconnects on
// Ctrl-C. The exit status follows the connect contract.
func connectViaDaemon(ctx context.Context, target string, p *profile.Profile, authFile string, asJSON, noBrowser bool, o ipc.ConnectOptions, stdout, stderr io.Writer) int {
	name := target
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		name = profilestore.NameFromPath(target)
	}
	var creds clientapi.Credentials
	term := credentials.NewTerminal()
	if authFile != "" {
		cf, err := credentials.ReadFile(authFile, term)
		if err != nil {
			fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
			return 1
		}
		creds = cf
	} else if term != nil {
		creds = term
	}
	out := newEventPrinter(stdout, asJSON)
	fed := &signin.Browser{NoBrowser: noBrowser, OnManual: func(url, reason string) {
		if !asJSON {
			fmt.Fprintf(stderr, "Open this address in your browser to sign in (%s):\n%s\n", reason, url)
		}
	}}
	ended := make(chan ipc.Result, 1)
	c, err := ipc.Dial(ctx, ipc.SocketPath(), ipc.ClientOptions{
		Events: func(n string, ev clientapi.Event) {
			if n == name {
				out.print(ev)
			}
		},
		Ended: func(n string, r ipc.Result) {
			if n == name {
				select {
				case ended <- r:
				default:
				}
			}
		},
		Credentials: func(string) clientapi.Credentials {
			if creds == nil {
				return nil
			}
			return interruptible{creds}
		},
		// The daemon (root) never opens a browser: this front end runs the
		// browser and the 127.0.0.1:35001 listener as the user.
		Federation: func(string) clientapi.Federation { return fed },
	})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
		return 1
	}
	defer c.Close()
	var text []byte // nil: a system profile the daemon reads
	if p != nil {
		text = profile.Serialize(p)
	}
	if err := c.ConnectWith(ctx, name, text, o); err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
		return 1
	}
	var res ipc.Result
	select {
	case res = <-ended:
	case <-c.Done():
		fmt.Fprintf(stderr, "cvpn connect: lost the connection to the cvpn daemon: %v\n", c.Err())
		return 1
	case <-ctx.Done():
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Disconnect(dctx, name, false); err != nil && ipc.ErrorCode(err) != ipc.CodeNotFound {
			fmt.Fprintf(stderr, "cvpn connect: disconnect: %v\n", err)
			return 1
		}
		select {
		case res = <-ended:
		case <-c.Done():
		case <-dctx.Done():
		}
		return 0
	}
	switch {
	case res.Requested:
		return 0
	case res.AuthFailed:
		if !asJSON {
			fmt.Fprintf(stderr, "cvpn connect: %s\n", res.Reason)
		}
		return 3
	default:
		if !asJSON {
			fmt.Fprintf(stderr, "cvpn connect: %s\n", res.Reason)
		}
		return 1
	}
}

// interruptible runs a credentials prompt so that the caller returns when
// ctx ends even if the terminal read does not (the pending read ends with
// the process).
type interruptible struct{ c clientapi.Credentials }

type credAnswer struct {
	a, b string
	err  error
}

func (i interruptible) wait(ctx context.Context, fn func() credAnswer) credAnswer {
	ch := make(chan credAnswer, 1)
	go func() { ch <- fn() }()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return credAnswer{err: ctx.Err()}
	}
}

func (i interruptible) UserPass(ctx context.Context, reason string) (string, string, error) {
	r := i.wait(ctx, func() credAnswer {
		u, p, err := i.c.UserPass(ctx, reason)
		return credAnswer{u, p, err}
	})
	return r.a, r.b, r.err
}

func (i interruptible) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	r := i.wait(ctx, func() credAnswer {
		a, err := i.c.Challenge(ctx, text, echo)
		return credAnswer{a: a, err: err}
	})
	return r.a, r.err
}
