//go:build linux || darwin

package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func defaultSystem() system {
	return system{
		geteuid:    os.Geteuid,
		getenv:     os.Getenv,
		lookupUser: user.Lookup,
		exists:     fileExists,
		lookPath:   exec.LookPath,
		run:        runCommand,
	}
}

func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) (*Opener, error) {
	if sys.geteuid() != 0 {
		c, err := ownCommand(rawURL, sys)
		if err != nil {
			return nil, &ManualError{URL: rawURL, Reason: err.Error()}
		}
		log.Info("opening the sign-in page", "opener", c.Path)
		o, err := sys.run(ctx, c)
		if err != nil {
			return nil, &ManualError{URL: rawURL, Reason: fmt.Sprintf("could not start %s: %v", c.Path, err)}
		}
		return o, nil
	}
	name := sys.getenv("SUDO_USER")
	if name == "" || name == "root" {
		return nil, &ManualError{URL: rawURL, Reason: "not opening a browser as root"}
	}
	c, err := userCommand(rawURL, name, sys)
	if err != nil {
		return nil, &ManualError{URL: rawURL, Reason: err.Error()}
	}
	log.Info("opening the sign-in page as the desktop user", "user", name, "opener", c.Path)
	o, err := sys.run(ctx, c)
	if err != nil {
		return nil, &ManualError{URL: rawURL, Reason: fmt.Sprintf("could not start %s as %s: %v", c.Path, name, err)}
	}
	return o, nil
}

// ownCommand is the opener for the current (unprivileged) user: the
// first of the desktop's openers found on PATH.
func ownCommand(rawURL string, sys system) (*command, error) {
	names := ownOpeners()
	for _, n := range names {
		if p, err := sys.lookPath(n); err == nil {
			return &command{Path: p, Args: []string{rawURL}}, nil
		}
	}
	return nil, fmt.Errorf("no browser opener found on PATH (looked for %s)", strings.Join(names, ", "))
}

// userCommand builds the opener for the sudo user with that user's
// desktop environment.
func userCommand(rawURL, name string, sys system) (*command, error) {
	u, err := sys.lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("SUDO_USER %q: %v", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, fmt.Errorf("SUDO_USER %q has uid %q gid %q: not a desktop user", name, u.Uid, u.Gid)
	}
	env := []string{
		"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
	}
	for _, k := range []string{"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "LANG", "BROWSER"} {
		if v := sys.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if sys.getenv("XAUTHORITY") == "" {
		if p := filepath.Join(u.HomeDir, ".Xauthority"); sys.exists(p) {
			env = append(env, "XAUTHORITY="+p)
		}
	}
	runtimeDir := "/run/user/" + u.Uid
	if sys.exists(runtimeDir) {
		env = append(env, "XDG_RUNTIME_DIR="+runtimeDir)
		if sys.exists(runtimeDir + "/bus") {
			env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+runtimeDir+"/bus")
		}
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil && n != 0 {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &command{Path: opener(), Args: []string{rawURL}, Env: env, AsUser: true,
		UID: uint32(uid), GID: uint32(gid), Groups: groups}, nil
}

// runCommand starts the opener in a session of its own (so that it and
// the browser it may run in the foreground outlive nothing of ours and get
// no signals meant for us), with no stdin and its output discarded, and
// reaps it on the Opener's goroutine. It returns at once.
func runCommand(_ context.Context, c *command) (*Opener, error) {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if c.AsUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	o := &Opener{pid: cmd.Process.Pid, name: filepath.Base(c.Path), done: make(chan struct{})}
	go func() { // owned by o: ends when the opener exits
		o.err = exitError(o.name, cmd.Wait())
		close(o.done)
	}()
	return o, nil
}

// exitError explains an opener's exit (xdg-open's documented statuses).
func exitError(name string, err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	switch code := ee.ExitCode(); {
	case name == "xdg-open" && code == 3:
		return fmt.Errorf("%s found no web browser to open the address (exit status 3)", name)
	case name == "xdg-open" && code == 4:
		return fmt.Errorf("%s could not start the web browser (exit status 4)", name)
	case code >= 0:
		return fmt.Errorf("%s exited with status %d", name, code)
	default:
		return fmt.Errorf("%s ended: %v", name, ee.ProcessState)
	}
}
