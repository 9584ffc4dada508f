//go:build linux || darwin

package browser

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	pkgbrowser "github.com/pkg/browser"
)

func defaultSystem() system {
	return system{
		geteuid:    os.Geteuid,
		getenv:     os.Getenv,
		lookupUser: user.Lookup,
		exists:     fileExists,
		run:        runCommand,
		openURL:    pkgbrowser.OpenURL,
	}
}

func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) error {
	if sys.geteuid() != 0 {
		return sys.openURL(rawURL)
	}
	name := sys.getenv("SUDO_USER")
	if name == "" || name == "root" {
		return &ManualError{URL: rawURL, Reason: "not opening a browser as root"}
	}
	c, err := userCommand(rawURL, name, sys)
	if err != nil {
		return &ManualError{URL: rawURL, Reason: err.Error()}
	}
	log.Info("opening the sign-in page as the desktop user", "user", name, "opener", c.Path)
	if err := sys.run(ctx, c); err != nil {
		return &ManualError{URL: rawURL, Reason: fmt.Sprintf("could not start %s as %s: %v", c.Path, name, err)}
	}
	return nil
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
	return &command{Path: opener(), Args: []string{rawURL}, Env: env, UID: uint32(uid), GID: uint32(gid), Groups: groups}, nil
}

// runCommand starts the opener with the user's credentials and reaps it
// in the background (xdg-open and open return as soon as the browser is
// asked; the goroutine ends with the process).
func runCommand(ctx context.Context, c *command) error {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups},
		Setsid:     true,
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
