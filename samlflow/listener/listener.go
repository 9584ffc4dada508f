package listener

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cvpn/cvpn/samlflow"
)

// NoPortsMessage is the exact text the AWS client shows when the port is taken.
const NoPortsMessage = "The authentication flow could not be initiated. There are no available ports."

// DefaultTimeout is how long Wait waits for the IdP when Options.Timeout is
// zero: generous enough for a password, an MFA push and a slow IdP.
const DefaultTimeout = 5 * time.Minute

// maxBody bounds the request body: the 128 KB SAMLResponse may be up to
// three times longer once form-encoded (+ / = become %2B %2F %3D), plus
// RelayState and other fields.
const maxBody = 3*samlflow.MaxResponseSize + 16*1024

// ErrNoAvailablePorts is matched (errors.Is) by *PortBusyError.
var ErrNoAvailablePorts error = noPortsError{}

// noPortsError carries the user-facing sentence verbatim (capitalized,
// with a full stop, as the AWS client shows it).
type noPortsError struct{}

func (noPortsError) Error() string { return NoPortsMessage }

// PortBusyError is returned by Listen when the port is already bound.
// Error() is exactly NoPortsMessage; Holder names the process that holds
// the port when the operating system can tell ("" otherwise).
type PortBusyError struct {
	Port   int
	Holder string // e.g. "pid 1234 (nc)"
	Err    error  // the bind error
}

func (e *PortBusyError) Error() string { return NoPortsMessage }

// Is makes errors.Is(err, ErrNoAvailablePorts) true.
func (e *PortBusyError) Is(target error) bool { return target == ErrNoAvailablePorts }

// Unwrap returns the bind error.
func (e *PortBusyError) Unwrap() error { return e.Err }

// Hint is a second line for the user: which address is busy and, when
// known, which process holds it.
func (e *PortBusyError) Hint() string {
	s := "127.0.0.1:" + strconv.Itoa(e.Port) + " is already in use"
	if e.Holder != "" {
		s += " by " + e.Holder
	}
	return s
}

// ErrTimeout is matched (errors.Is) by the error Wait returns when no
// SAMLResponse arrived in time.
var ErrTimeout = errors.New("timed out waiting for the identity provider")

// Options configure Listen. The zero value listens on 127.0.0.1:35001 with
// DefaultTimeout.
type Options struct {
	Port    int           // 0 = samlflow.DefaultPort; tests use a free port
	Timeout time.Duration // 0 = DefaultTimeout; measured from Listen
	Logger  *slog.Logger  // nil = discard
}

// Listener receives exactly one SAMLResponse. It is safe for concurrent use.
type Listener struct {
	ln      net.Listener
	srv     *http.Server
	log     *slog.Logger
	port    int
	timeout time.Duration
	timer   *time.Timer

	result   chan string   // capacity 1: the accepted SAMLResponse
	done     chan struct{} // closed when the server goroutine ends
	closeOne sync.Once
	once     sync.Mutex // guards accepted
	accepted bool

	connMu   sync.Mutex
	newConns map[net.Conn]bool // connections that have not sent a request yet
}

// Listen binds TCP 127.0.0.1:port and starts serving. If the port is taken
// it returns a *PortBusyError. ctx only bounds the bind; use Close or Wait's
// context to stop.
func Listen(ctx context.Context, opts Options) (*Listener, error) {
	port := opts.Port
	if port == 0 {
		port = samlflow.DefaultPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("saml listener: port %d out of range", port)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	lc := net.ListenConfig{Control: listenControl}
	ln, err := lc.Listen(ctx, "tcp4", addr)
	if err != nil {
		if isAddrInUse(err) {
			return nil, &PortBusyError{Port: port, Holder: portHolder(ctx, port), Err: err}
		}
		return nil, fmt.Errorf("saml listener: listen on %s: %w", addr, err)
	}
	l := &Listener{
		ln:       ln,
		log:      log,
		port:     port,
		timeout:  timeout,
		result:   make(chan string, 1),
		done:     make(chan struct{}),
		newConns: map[net.Conn]bool{},
	}
	l.timer = time.NewTimer(timeout)
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    32 * 1024,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:         l.connState,
	}
	go func() {
		defer close(l.done)
		err := l.srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Warn("saml listener stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("saml listener ready", "addr", addr, "timeout", timeout)
	return l, nil
}

// URL is the address the IdP posts to, e.g. http://127.0.0.1:35001.
func (l *Listener) URL() string { return "http://" + l.ln.Addr().String() }

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Wait blocks until a valid SAMLResponse arrives, the timeout given to
// Listen expires, or ctx ends. The port is released before Wait returns.
func (l *Listener) Wait(ctx context.Context) (string, error) {
	defer l.Close()
	select {
	case r := <-l.result:
		return r, nil
	case <-l.timer.C:
		return "", fmt.Errorf("no SAML response reached %s within %s (the sign-in was not completed in the browser, or the identity provider never answered): %w",
			l.URL(), l.timeout, ErrTimeout)
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the SAML response on %s: %w", l.URL(), ctx.Err())
	}
}

// connState tracks connections that have not sent a request yet: browsers
// open such spare connections, and http.Server.Shutdown would wait up to
// 5 s for each before counting it idle.
func (l *Listener) connState(c net.Conn, st http.ConnState) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if st == http.StateNew {
		l.newConns[c] = true
	} else {
		delete(l.newConns, c)
	}
}

// Close stops the server, releases the port and waits for the serving
// goroutine. A page being written gets up to 0.5 s; connections that
// never sent a request are closed at once. It is idempotent.
func (l *Listener) Close() error {
	var err error
	l.closeOne.Do(func() {
		l.timer.Stop()
		_ = l.ln.Close() // the port is free from here on
		l.connMu.Lock()
		for c := range l.newConns {
			_ = c.Close()
		}
		l.connMu.Unlock()
		// The page being written (the thank-you page after the assertion,
		// whose handler returns right after handing it over) gets up to
		// 0.5 s to finish; closing at once would cut its chunked body
		// short and the browser would show an error instead.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if e := l.srv.Shutdown(ctx); e != nil {
			err = l.srv.Close()
		}
		<-l.done
	})
	return err
}

// ServeHTTP implements the single POST endpoint. Exposed for fuzzing and
// tests through Handler; callers normally only use Listen/Wait.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	value, status, msg := Check(w, r)
	if status != http.StatusOK {
		l.log.Warn("saml listener rejected request", "method", r.Method, "status", status, "reason", msg)
		writePage(w, status, "Sign-in failed", msg)
		return
	}
	l.once.Lock()
	first := !l.accepted
	l.accepted = true
	l.once.Unlock()
	if !first {
		writePage(w, http.StatusConflict, "Already received",
			"The sign-in details were already received. You can close this window.")
		return
	}
	writePage(w, http.StatusOK, "Sign-in details received",
		"Received the sign-in details. You can close this window and return to the VPN client.")
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	l.result <- value
	l.log.Info("saml listener received a SAML response", "bytes", len(value))
	// Release the port now: no further connections are accepted. The
	// serving goroutine sees net.ErrClosed and ends; Close waits for it.
	if l.ln != nil {
		_ = l.ln.Close()
	}
}

// Check validates one request: method POST, body within limits, form field
// SAMLResponse present and a base64 samlp:Response. It returns the field
// value and 200, or an HTTP status and a message for the user. It sets the
// Allow header on 405. w may be nil.
func Check(w http.ResponseWriter, r *http.Request) (value string, status int, msg string) {
	if r.Method != http.MethodPost {
		if w != nil {
			w.Header().Set("Allow", http.MethodPost)
		}
		return "", http.StatusMethodNotAllowed, "Method " + r.Method + " is not allowed: the identity provider must POST the SAMLResponse."
	}
	if r.ContentLength > maxBody {
		return "", http.StatusRequestEntityTooLarge, (&samlflow.SizeError{Size: int(r.ContentLength)}).Error()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", http.StatusRequestEntityTooLarge, (&samlflow.SizeError{Size: int(mbe.Limit)}).Error()
		}
		return "", http.StatusBadRequest, "The request body is not a form: " + err.Error()
	}
	vals := r.PostForm["SAMLResponse"]
	if len(vals) != 1 {
		return "", http.StatusBadRequest, "The request must carry exactly one SAMLResponse form field (got " + strconv.Itoa(len(vals)) + ")."
	}
	if _, err := samlflow.DecodeResponse(vals[0]); err != nil {
		if errors.Is(err, samlflow.ErrTooLarge) {
			return "", http.StatusRequestEntityTooLarge, err.Error()
		}
		return "", http.StatusBadRequest, err.Error()
	}
	return vals[0], http.StatusOK, ""
}

// writePage sends the small, self-contained answer page.
func writePage(w http.ResponseWriter, status int, title, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>`+
		html.EscapeString(title)+`</title><style>body{font-family:sans-serif;margin:3em auto;max-width:36em}</style></head><body><h1>`+
		html.EscapeString(title)+`</h1><p>`+html.EscapeString(msg)+`</p></body></html>`)
}
