//go:build !windows

package chromium

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WriteOpener writes an executable fake xdg-open into dir and returns its
// path. It behaves like xdg-open outside GNOME and KDE when the browser is
// not running yet: it runs headless Chromium (binary, or FindBinary) on
// its argument in the foreground and exits only when Chromium does. Each
// run keeps its files in dir/run-<pid>: pid (the opener's PID), profile/
// (Chromium's profile, with DevToolsActivePort), stderr and exit. Stop
// them all with StopOpeners.
func WriteOpener(dir, binary string) (string, error) {
	if binary == "" {
		binary = FindBinary()
	}
	if binary == "" {
		return "", errors.New("chromium not found on PATH (Debian package chromium)")
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := "#!/bin/sh\n" +
		"# fake xdg-open: runs the browser in the foreground, like xdg-open outside GNOME/KDE\n" +
		"d=" + q(dir) + "/run-$$\n" +
		"mkdir -p \"$d\"\n" +
		"echo $$ > \"$d/pid.tmp\" && mv \"$d/pid.tmp\" \"$d/pid\"\n" +
		"[ -e " + q(dir) + "/stop ] && exit 0\n" +
		q(binary) + " " + strings.Join(quoted(chromiumFlags(), q), " ") + " --user-data-dir=\"$d/profile\" \"$1\" 2>\"$d/stderr\"\n" +
		"echo $? > \"$d/exit\"\n"
	p := filepath.Join(dir, "xdg-open")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// OpenerRun is one run of the fake opener.
type OpenerRun struct {
	Dir string
	PID int // the opener's; it leads its process group when started by samlflow/browser
}

// OpenerRuns lists the runs of the fake opener in dir, oldest PID first.
func OpenerRuns(dir string) ([]OpenerRun, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "run-*"))
	if err != nil {
		return nil, err
	}
	var runs []OpenerRun
	for _, m := range matches {
		b, err := os.ReadFile(filepath.Join(m, "pid"))
		if err != nil {
			continue // still starting
		}
		if strings.TrimSpace(string(b)) == "" {
			continue // written by an older opener without the rename
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s/pid: %v", m, err)
		}
		runs = append(runs, OpenerRun{Dir: m, PID: pid})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].PID < runs[j].PID })
	return runs, nil
}

// Exited reports whether the run's opener has finished (its exit file).
func (r OpenerRun) Exited() bool {
	_, err := os.Stat(filepath.Join(r.Dir, "exit"))
	return err == nil
}

// Stop kills the run's process group (the opener and its Chromium) by the
// opener's PID and waits (at most 10 s) until none of them is alive, so
// nothing writes into the run's folder afterwards. It fails naming the
// processes that survived.
func (r OpenerRun) Stop() error {
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if alive := killGroupAndWait(r.PID, 10*time.Second); len(alive) > 0 {
		return fmt.Errorf("fake opener %d: processes %v still alive 10 s after SIGKILL", r.PID, alive)
	}
	return nil
}

// StopOpeners stops every run of the fake opener in dir, including one
// being started right now: runs that start from here on exit at once.
// It returns when every run's processes are gone.
func StopOpeners(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		return err
	}
	runs, err := OpenerRuns(dir)
	errs := []error{err}
	for _, r := range runs {
		errs = append(errs, r.Stop())
	}
	return errors.Join(errs...)
}

// Attach connects to the Chromium of a fake opener run once it has
// written DevToolsActivePort (bounded by ctx). Close leaves it running;
// stop it with OpenerRun.Stop.
func Attach(ctx context.Context, run OpenerRun, log *slog.Logger) (*Browser, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	file := filepath.Join(run.Dir, "profile", "DevToolsActivePort")
	var port string
	for port == "" {
		if b, err := os.ReadFile(file); err == nil {
			if line, _, _ := strings.Cut(string(b), "\n"); strings.TrimSpace(line) != "" {
				port = strings.TrimSpace(line)
				break
			}
		}
		select {
		case <-ctx.Done():
			stderr, _ := os.ReadFile(filepath.Join(run.Dir, "stderr"))
			return nil, fmt.Errorf("no %s: %w\n%s", file, ctx.Err(), stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	b := &Browser{dir: run.Dir, log: log, pending: map[int64]chan rpcReply{}, done: make(chan struct{})}
	if err := b.attach(ctx, port); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func quoted(args []string, q func(string) string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = q(a)
	}
	return out
}
