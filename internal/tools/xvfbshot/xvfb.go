package xvfbshot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Options configure Start.
type Options struct {
	// Width and Height of the screen; 0 means 1280x800.
	Width, Height int
	// Depth is the screen's colour depth; 0 means 24.
	Depth int
	// Xvfb and XWD are the programs to run; empty means "Xvfb" and "xwd"
	// from PATH.
	Xvfb, XWD string
	// StartTimeout bounds the wait for the server to accept clients; 0
	// means 15 seconds.
	StartTimeout time.Duration
	// Logger receives the server's progress; nil discards.
	Logger *slog.Logger
}

// Server is a running Xvfb. Close stops it.
type Server struct {
	display string
	xwd     string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *bytes.Buffer
	log     *slog.Logger
}

// Start runs Xvfb on a display it picks itself (-displayfd) with a black
// root window, and returns once the server accepts clients.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Width == 0 {
		o.Width = 1280
	}
	if o.Height == 0 {
		o.Height = 800
	}
	if o.Depth == 0 {
		o.Depth = 24
	}
	if o.Width < 0 || o.Height < 0 {
		return nil, fmt.Errorf("xvfb screen size %dx%d: width and height must be positive", o.Width, o.Height)
	}
	if o.Xvfb == "" {
		o.Xvfb = "Xvfb"
	}
	if o.XWD == "" {
		o.XWD = "xwd"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	xvfb, err := exec.LookPath(o.Xvfb)
	if err != nil {
		return nil, fmt.Errorf("%w (Debian package xvfb)", err)
	}
	xwd, err := exec.LookPath(o.XWD)
	if err != nil {
		return nil, fmt.Errorf("%w (Debian package x11-apps)", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	s := &Server{xwd: xwd, exited: make(chan struct{}), stderr: &bytes.Buffer{}, log: o.Logger}
	s.cmd = exec.Command(xvfb, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx%d", o.Width, o.Height, o.Depth),
		"-br", "-nolisten", "tcp", "-noreset")
	s.cmd.ExtraFiles = []*os.File{pw}
	s.cmd.Stderr = &limitedWriter{buf: s.stderr, max: 16 << 10}
	if err := s.cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", xvfb, err)
	}
	pw.Close()
	go func() {
		// Reaps the server; Close waits for it.
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	got := make(chan string, 1)
	go func() {
		// Ends when the server writes its display or exits (pipe closed).
		line, _ := bufio.NewReader(pr).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case line := <-got:
		n, err := strconv.Atoi(line)
		if err != nil || n < 0 {
			s.Close()
			return nil, fmt.Errorf("xvfb server (pid %d) did not report a display (got %q): %s", s.cmd.Process.Pid, line, s.stderrText())
		}
		s.display = ":" + strconv.Itoa(n)
	case <-timer.C:
		s.Close()
		return nil, fmt.Errorf("xvfb server (pid %d) not ready within %s: %s", s.cmd.Process.Pid, o.StartTimeout, s.stderrText())
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	s.log.Info("Xvfb ready", "display", s.display, "pid", s.cmd.Process.Pid, "screen", fmt.Sprintf("%dx%d", o.Width, o.Height))
	return s, nil
}

// Display is the server's DISPLAY value, like ":99".
func (s *Server) Display() string { return s.display }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Grab dumps the whole screen with `xwd -root` and decodes it.
func (s *Server) Grab(ctx context.Context) (*image.RGBA, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.xwd, "-display", s.display, "-root", "-silent")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("xwd -display %s -root: %w: %s", s.display, err, strings.TrimSpace(errb.String()))
	}
	img, err := DecodeXWD(&out)
	if err != nil {
		return nil, fmt.Errorf("xwd -display %s: %w", s.display, err)
	}
	return img, nil
}

// Close stops the server (SIGTERM, then SIGKILL after five seconds) and
// waits for it to exit.
func (s *Server) Close() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("signal Xvfb", "pid", s.cmd.Process.Pid, "err", err)
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill Xvfb pid %d: %w", s.cmd.Process.Pid, err)
	}
	<-s.exited
	return nil
}

func (s *Server) stderrText() string {
	return strings.TrimSpace(s.stderr.String())
}

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
