//go:build linux || darwin

package browser

import (
	"context"
	"errors"
	"os/user"
	"slices"
	"strings"
	"testing"
)

type fake struct {
	euid   int
	env    map[string]string
	files  map[string]bool
	ran    []*command
	opened []string
}

func (f *fake) sys() system {
	return system{
		geteuid: func() int { return f.euid },
		getenv:  func(k string) string { return f.env[k] },
		lookupUser: func(n string) (*user.User, error) {
			switch n {
			case "alice":
				return &user.User{Uid: "1000", Gid: "1000", Username: "alice", HomeDir: "/home/alice"}, nil
			case "toor":
				return &user.User{Uid: "0", Gid: "0", Username: "toor", HomeDir: "/root"}, nil
			}
			return nil, user.UnknownUserError(n)
		},
		exists: func(p string) bool { return f.files[p] },
		lookPath: func(n string) (string, error) {
			if n == ownOpeners()[0] {
				return "/opt/bin/" + n, nil
			}
			return "", errors.New("not found")
		},
		run: func(_ context.Context, c *command) (*Opener, error) {
			if c.AsUser {
				f.ran = append(f.ran, c)
			} else {
				f.opened = append(f.opened, c.Args...)
			}
			return finished(c.Path, nil), nil
		},
	}
}

const idpURL = "https://idp.example.com/sso?SAMLRequest=abc"

func TestNoBrowser(t *testing.T) {
	f := &fake{euid: 1000}
	_, err := start(context.Background(), idpURL, Options{NoBrowser: true}, f.sys())
	var me *ManualError
	if !errors.As(err, &me) || me.URL != idpURL || !strings.Contains(err.Error(), idpURL) {
		t.Fatalf("err = %v", err)
	}
	if len(f.opened)+len(f.ran) != 0 {
		t.Fatal("opened a browser with --no-browser")
	}
}

func TestUnprivilegedUsesDefaultBrowser(t *testing.T) {
	f := &fake{euid: 1000}
	if _, err := start(context.Background(), idpURL, Options{}, f.sys()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.opened, []string{idpURL}) || len(f.ran) != 0 {
		t.Fatalf("opened %v ran %v", f.opened, f.ran)
	}
}

func TestRootWithoutSudoUserRefuses(t *testing.T) {
	for _, env := range []map[string]string{{}, {"SUDO_USER": "root"}} {
		f := &fake{euid: 0, env: env}
		_, err := start(context.Background(), idpURL, Options{}, f.sys())
		var me *ManualError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), "not opening a browser as root") {
			t.Fatalf("env %v: err = %v", env, err)
		}
		if len(f.opened)+len(f.ran) != 0 {
			t.Fatal("opened a browser as root")
		}
	}
}

func TestSudoRunsAsDesktopUser(t *testing.T) {
	f := &fake{euid: 0,
		env:   map[string]string{"SUDO_USER": "alice", "DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "SECRET_TOKEN": "x"},
		files: map[string]bool{"/run/user/1000": true, "/run/user/1000/bus": true, "/home/alice/.Xauthority": true},
	}
	if _, err := start(context.Background(), idpURL, Options{}, f.sys()); err != nil {
		t.Fatal(err)
	}
	if len(f.opened) != 0 || len(f.ran) != 1 {
		t.Fatalf("opened %v ran %d", f.opened, len(f.ran))
	}
	c := f.ran[0]
	if c.UID != 1000 || c.GID != 1000 || c.Path != opener() || !slices.Equal(c.Args, []string{idpURL}) {
		t.Fatalf("command %+v", c)
	}
	for _, want := range []string{"HOME=/home/alice", "USER=alice", "DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0",
		"XAUTHORITY=/home/alice/.Xauthority", "XDG_RUNTIME_DIR=/run/user/1000",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("env lacks %s: %v", want, c.Env)
		}
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e, "SECRET_TOKEN=") || strings.HasPrefix(e, "SUDO_") {
			t.Errorf("root's environment leaked: %s", e)
		}
	}
}

func TestSudoUserProblems(t *testing.T) {
	for _, name := range []string{"nobody-such", "toor"} {
		f := &fake{euid: 0, env: map[string]string{"SUDO_USER": name}}
		_, err := start(context.Background(), idpURL, Options{}, f.sys())
		var me *ManualError
		if !errors.As(err, &me) || len(f.ran) != 0 {
			t.Fatalf("%s: err = %v ran %d", name, err, len(f.ran))
		}
	}
}

func TestRejectsNonHTTP(t *testing.T) {
	f := &fake{euid: 1000}
	for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "-new-window", ""} {
		if _, err := start(context.Background(), u, Options{}, f.sys()); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
	if len(f.opened) != 0 {
		t.Fatal("opened something")
	}
}
