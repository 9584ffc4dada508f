package chromium

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// Options configure Start.
type Options struct {
	// Binary is the Chromium executable; default: the first of chromium,
	// chromium-browser, google-chrome found on PATH.
	Binary string
	Logger *slog.Logger
}

// Browser is a running headless Chromium with one page attached.
type Browser struct {
	cmd     *exec.Cmd
	dir     string
	ws      *websocket.Conn
	log     *slog.Logger
	waitErr chan error

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan rpcReply
	readErr error
	done    chan struct{} // closed when the reader ends
}

type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// FindBinary returns the Chromium executable on PATH, or "".
func FindBinary() string {
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// chromiumFlags are the flags of every headless Chromium started here.
func chromiumFlags() []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-features=PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks",
		"--remote-debugging-address=127.0.0.1", "--remote-allow-origins=http://127.0.0.1",
		"--remote-debugging-port=0"}
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)`)

// Start launches Chromium headless and connects to its first page. ctx
// bounds the start-up only.
func Start(ctx context.Context, opts Options) (*Browser, error) {
	bin := opts.Binary
	if bin == "" {
		bin = FindBinary()
	}
	if bin == "" {
		return nil, errors.New("chromium not found on PATH (Debian package chromium)")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "cvpn-chromium-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append(chromiumFlags(), "--user-data-dir="+dir, "about:blank")...)
	ownGroup(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &Browser{cmd: cmd, dir: dir, log: log, pending: map[int64]chan rpcReply{},
		done: make(chan struct{}), waitErr: make(chan error, 1)}
	found := make(chan string, 1)
	go func() { // owned by the process: ends when chromium closes stderr
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if m := devtoolsRE.FindStringSubmatch(line); m != nil && !sent {
				found <- m[2]
				sent = true
			}
			log.Debug("chromium", "stderr", line)
		}
		_, _ = io.Copy(io.Discard, stderr)
		b.waitErr <- cmd.Wait()
	}()
	var port string
	select {
	case port = <-found:
	case <-ctx.Done():
		b.kill()
		return nil, fmt.Errorf("chromium did not print its DevTools address: %w", ctx.Err())
	case err := <-b.waitErr:
		b.waitErr <- err
		b.kill()
		return nil, fmt.Errorf("chromium exited during start-up: %v", err)
	}
	if err := b.attach(ctx, port); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// attach connects b to the first page of the Chromium whose DevTools
// listen on port.
func (b *Browser) attach(ctx context.Context, port string) error {
	wsURL, err := pageTarget(ctx, port)
	if err != nil {
		return err
	}
	cfg, err := websocket.NewConfig(wsURL, "http://127.0.0.1")
	if err != nil {
		return err
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to chromium DevTools %s: %w", wsURL, err)
	}
	ws.MaxPayloadBytes = 64 << 20
	b.ws = ws
	go b.readLoop()
	if _, err := b.call(ctx, "Page.enable", nil); err != nil {
		return err
	}
	if _, err := b.call(ctx, "Runtime.enable", nil); err != nil {
		return err
	}
	return nil
}

// pageTarget finds the page's DevTools websocket URL (bounded retries).
// It dials on the calling goroutine (no http.Transport, which dials on
// goroutines of its own) so that Start works inside a network namespace
// entered by the calling thread.
func pageTarget(ctx context.Context, port string) (string, error) {
	for i := 0; i < 50; i++ {
		if u, err := listPage(ctx, port); err == nil && u != "" {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", errors.New("chromium DevTools lists no page target")
}

func listPage(ctx context.Context, port string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+port)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/json/list", nil)
	req.Close = true
	if err := req.Write(c); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var targets []struct {
		Type, URL, WebSocketDebuggerURL string
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&targets); err != nil {
		return "", err
	}
	for _, t := range targets {
		if t.Type == "page" && t.WebSocketDebuggerURL != "" {
			return t.WebSocketDebuggerURL, nil
		}
	}
	return "", nil
}

func (b *Browser) readLoop() {
	defer close(b.done)
	for {
		var msg struct {
			ID int64 `json:"id"`
			rpcReply
		}
		if err := websocket.JSON.Receive(b.ws, &msg); err != nil {
			b.mu.Lock()
			b.readErr = err
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		if msg.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[msg.ID]
		delete(b.pending, msg.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- msg.rpcReply
		}
	}
}

func (b *Browser) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ch := make(chan rpcReply, 1)
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("devtools %s: connection closed: %w", method, b.readErr)
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(b.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("devtools %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("devtools %s: connection closed", method)
		}
		if r.Error != nil {
			return nil, fmt.Errorf("devtools %s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		return r.Result, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("devtools %s: %w", method, ctx.Err())
	}
}

// Navigate opens url in the page.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	res, err := b.call(ctx, "Page.navigate", map[string]any{"url": url})
	if err != nil {
		return err
	}
	var r struct {
		ErrorText string `json:"errorText"`
	}
	_ = json.Unmarshal(res, &r)
	if r.ErrorText != "" {
		return fmt.Errorf("navigate to %s: %s", url, r.ErrorText)
	}
	return nil
}

// Eval evaluates a JavaScript expression in the page and returns its value
// (JSON-decoded into out when out is not nil).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	res, err := b.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("javascript: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor polls a boolean JavaScript expression every 100 ms until it is
// true or ctx ends.
func (b *Browser) WaitFor(ctx context.Context, expr string) error {
	for {
		var ok bool
		err := b.Eval(ctx, "Boolean("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			loc, _ := b.Location(context.Background())
			return fmt.Errorf("waiting for %s at %s: %w (last error: %v)", expr, loc, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Location is the page's current URL.
func (b *Browser) Location(ctx context.Context) (string, error) {
	var s string
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := b.Eval(ctx, "location.href", &s)
	return s, err
}

// Text is the page's visible text.
func (b *Browser) Text(ctx context.Context) (string, error) {
	var s string
	err := b.Eval(ctx, "document.body ? document.body.innerText : ''", &s)
	return strings.TrimSpace(s), err
}

// Close ends the DevTools connection and, for a Chromium that Start
// launched, kills it by PID, waits for it and removes its profile
// directory. An attached Chromium (Attach) is left running.
func (b *Browser) Close() error {
	if b.ws != nil {
		b.ws.Close()
		<-b.done
	}
	b.kill()
	return nil
}

func (b *Browser) kill() {
	if b.cmd == nil { // attached: somebody else owns the process
		return
	}
	if b.cmd.Process != nil {
		killGroup(b.cmd)
		select {
		case err := <-b.waitErr:
			b.waitErr <- err
		case <-time.After(10 * time.Second):
			b.log.Warn("chromium did not exit after kill", "pid", b.cmd.Process.Pid)
		}
	}
	os.RemoveAll(b.dir)
}
