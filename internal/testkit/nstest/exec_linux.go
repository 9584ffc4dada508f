package nstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds commands and waits whose context has no deadline.
const DefaultTimeout = 30 * time.Second

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// nsCommand returns argv wrapped in `ip netns exec ns`. An empty ns runs
// argv in the current namespace.
func nsCommand(ctx context.Context, ns string, argv []string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// Run runs argv inside namespace ns with `ip netns exec` and returns its
// combined output. The error names the namespace, the command, the exit
// status and includes the output. Without a deadline on ctx the command is
// bounded by DefaultTimeout.
func Run(ctx context.Context, ns string, argv ...string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("nstest: Run without a command")
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultTimeout)
	defer cancel()
	out, err := nsCommand(ctx, ns, argv).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return string(out), fmt.Errorf("nstest: [%s] %s: %w\n%s", ns, strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func MustRun(t testing.TB, ns string, argv ...string) string {
	t.Helper()
	out, err := Run(context.Background(), ns, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// maxOutput caps the output a Proc keeps; later output is dropped.
const maxOutput = 8 << 20

// Proc is a process started inside a namespace. Its stdout and stderr are
// captured together.
type Proc struct {
	NS   string
	Argv []string

	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	out     bytes.Buffer
	dropped bool
	err     error         // from Wait, valid after done is closed
	wrote   chan struct{} // closed (and replaced) by each Write
}

// written returns a channel that is closed by the next Write.
func (p *Proc) written() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote == nil {
		p.wrote = make(chan struct{})
	}
	return p.wrote
}

// Write implements io.Writer for the captured output.
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote != nil {
		close(p.wrote)
		p.wrote = nil
	}
	if p.out.Len()+len(b) > maxOutput {
		p.dropped = true
		return len(b), nil
	}
	return p.out.Write(b)
}

// StartProc starts argv inside namespace ns. The caller must call Stop.
// The process gets SIGKILL if the thread that started it dies, so a crashed
// test binary does not leave it behind.
func StartProc(ns string, argv ...string) (*Proc, error) {
	return StartProcEnv(ns, nil, argv...)
}

// StartProcEnv is StartProc with env (KEY=value) added to the environment
// the process inherits, without an `env` wrapper process.
func StartProcEnv(ns string, env []string, argv ...string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("nstest: Start without a command")
	}
	p := &Proc{NS: ns, Argv: argv, done: make(chan struct{})}
	// Not CommandContext: the lifetime is controlled by Stop.
	p.cmd = nsCommand(context.Background(), ns, argv)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nstest: [%s] start %s: %w", ns, strings.Join(argv, " "), err)
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Start is StartProc for tests: the process is stopped in t.Cleanup and
// its output is logged when the test has failed.
func Start(t testing.TB, ns string, argv ...string) *Proc {
	t.Helper()
	return StartEnv(t, ns, nil, argv...)
}

// StartEnv is Start with env (KEY=value) added to the process's
// environment (see StartProcEnv).
func StartEnv(t testing.TB, ns string, env []string, argv ...string) *Proc {
	t.Helper()
	p, err := StartProcEnv(ns, env, argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("output of [%s] %s (pid %d, %s):\n%s", ns, strings.Join(argv, " "), p.PID(), p.ExitStatus(), p.Output())
		}
	})
	return p
}

// PID is the process id (`ip netns exec` execs the program, so this is the
// program itself).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the exit error after Done (nil for exit status 0, or while running).
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// ExitStatus describes the process state for messages.
func (p *Proc) ExitStatus() string {
	if !p.Exited() {
		return "running"
	}
	if err := p.Err(); err != nil {
		return err.Error()
	}
	return "exit status 0"
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.out.String()
	if p.dropped {
		s += "\n[nstest: output truncated]\n"
	}
	return s
}

// Signal sends sig to the process by PID unless it has exited.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("nstest: kill -%d %d: %w", sig, p.PID(), err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace for the exit, then sends SIGKILL
// and waits for the exit. It is safe to call more than once.
func (p *Proc) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("nstest: pid %d did not exit after SIGKILL", p.PID())
	}
}

// WaitFor waits until the output contains substr. It fails when the
// process exits first or ctx ends (DefaultTimeout without a deadline); the
// error includes the output.
func (p *Proc) WaitFor(ctx context.Context, substr string) error {
	_, err := p.waitOutput(ctx, fmt.Sprintf("%q", substr), func(s string) (string, bool) {
		return substr, strings.Contains(s, substr)
	})
	return err
}

// WaitMatch waits until re matches the output and returns the submatches
// of the first match.
func (p *Proc) WaitMatch(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	var m []string
	_, err := p.waitOutput(ctx, "/"+re.String()+"/", func(s string) (string, bool) {
		m = re.FindStringSubmatch(s)
		return "", m != nil
	})
	return m, err
}

func (p *Proc) waitOutput(ctx context.Context, what string, found func(string) (string, bool)) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, DefaultTimeout)
	defer cancel()
	// Woken by every write of the process (so times measured by waiting
	// for a line are exact, not rounded up to a polling interval), and
	// every 250 ms as a fallback.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		wrote := p.written()
		if s, ok := found(p.Output()); ok {
			return s, nil
		}
		select {
		case <-wrote:
		case <-p.done:
			if s, ok := found(p.Output()); ok {
				return s, nil
			}
			return "", fmt.Errorf("nstest: [%s] %s exited (%s) before printing %s; output:\n%s",
				p.NS, p.Argv[0], p.ExitStatus(), what, p.Output())
		case <-ctx.Done():
			return "", fmt.Errorf("nstest: [%s] %s: waiting for %s: %w; output:\n%s",
				p.NS, p.Argv[0], what, ctx.Err(), p.Output())
		case <-tick.C:
		}
	}
}
