package main

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSuperviseServiceRunError(t *testing.T) {
	boom := errors.New("boom")
	err := superviseService(func(context.Context) error { return boom }, make(chan struct{}), time.Second, time.After)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
}

func TestSuperviseServiceStopCancelsContext(t *testing.T) {
	stop := make(chan struct{})
	started := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- superviseService(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return nil
		}, stop, time.Minute, time.After)
	}()
	<-started
	close(stop)
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("err %v, want nil after a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("superviseService did not return after stop")
	}
}

func TestSuperviseServiceStopTimeout(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	release := make(chan struct{})
	defer close(release)
	expired := make(chan time.Time, 1)
	var asked time.Duration
	after := func(d time.Duration) <-chan time.Time {
		asked = d
		expired <- time.Time{}
		return expired
	}
	// run ignores its context until the test ends: the grace period must end the wait.
	err := superviseService(func(context.Context) error { <-release; return nil }, stop, 7*time.Second, after)
	if !errors.Is(err, errStopTimeout) || !strings.Contains(err.Error(), "waited 7s") {
		t.Fatalf("err %v, want errStopTimeout after 7s", err)
	}
	if asked != 7*time.Second {
		t.Fatalf("grace asked %s, want 7s", asked)
	}
}

func TestServiceCommandUsage(t *testing.T) {
	code, _, errOut := cvpn(t, "service")
	if code != 2 || !strings.Contains(errOut, "usage: cvpn service install | uninstall | run") {
		t.Errorf("no args: code %d stderr %q", code, errOut)
	}
	code, _, errOut = cvpn(t, "service", "start")
	if code != 2 || !strings.Contains(errOut, `unknown subcommand "start"`) {
		t.Errorf("unknown: code %d stderr %q", code, errOut)
	}
	code, _, errOut = cvpn(t, "service", "install", "extra")
	if code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("extra arg: code %d stderr %q", code, errOut)
	}
	code, out, _ := cvpn(t, "service", "run", "--help")
	if code != 0 || !strings.Contains(out, "usage: cvpn service") {
		t.Errorf("run --help: code %d stdout %q", code, out)
	}
}

func TestServiceCommandPointsToOSServiceManager(t *testing.T) {
	want := map[string]string{"linux": "systemctl enable --now cvpn.service", "darwin": "launchctl bootstrap system /Library/LaunchDaemons/io.github.cvpn.daemon.plist"}[runtime.GOOS]
	if want == "" {
		t.Skipf("the service command installs a real service on %s", runtime.GOOS)
	}
	for _, sub := range []string{"install", "uninstall", "run"} {
		code, out, errOut := cvpn(t, "service", sub)
		if code != 1 || out != "" || !strings.Contains(errOut, want) || !strings.HasPrefix(errOut, "cvpn service "+sub+": ") {
			t.Errorf("%s: code %d stdout %q stderr %q, want exit 1 naming %q", sub, code, out, errOut, want)
		}
	}
}
