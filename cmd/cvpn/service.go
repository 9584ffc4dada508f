package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

func serviceCommand() command {
	return command{name: "service", summary: "install, remove or run the daemon as a system service", run: runService}
}

const serviceUsage = `usage: cvpn service install | uninstall | run

Registers the cvpn daemon with the operating system's service manager.

  install     register "cvpn service run" as an automatic service running
              as LocalSystem (restarted on failure) and start it
  uninstall   stop the service and remove it
  run         the service's entry point, started by the service manager;
              it runs "cvpn daemon" until the service is stopped

These work on Windows (run them as Administrator). On Linux the cvpn
package installs the systemd unit cvpn.service; on macOS the installer
installs the LaunchDaemon io.github.cvpn.daemon. Use those instead.
`

func runService(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		io.WriteString(stderr, serviceUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		io.WriteString(stdout, serviceUsage)
		return 0
	case "install", "uninstall", "run":
	default:
		fmt.Fprintf(stderr, "cvpn service: unknown subcommand %q\n\n", args[0])
		io.WriteString(stderr, serviceUsage)
		return 2
	}
	if len(args) > 1 {
		if a := args[1]; a == "-h" || a == "-help" || a == "--help" {
			io.WriteString(stdout, serviceUsage)
			return 0
		}
		fmt.Fprintf(stderr, "cvpn service %s: unexpected argument %q\n", args[0], args[1])
		return 2
	}
	var err error
	switch args[0] {
	case "install":
		err = installService(stdout)
	case "uninstall":
		err = uninstallService(stdout)
	case "run":
		err = runAsService(daemonServiceFunc(), stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cvpn service %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// daemonServiceFunc is what the service runs: the same daemon as
// `cvpn daemon`, with its log written to w.
func daemonServiceFunc() func(ctx context.Context, w io.Writer) error {
	return func(ctx context.Context, w io.Writer) error {
		if code := runDaemon(ctx, nil, w, w); code != 0 {
			return fmt.Errorf("cvpn daemon exited with status %d", code)
		}
		return nil
	}
}

// errStopTimeout is returned by superviseService when the daemon did not
// return within the grace period after a stop request.
var errStopTimeout = errors.New("the daemon did not stop in time")

// superviseService runs run until it returns or stop is closed. After a
// stop it cancels run's context and waits at most grace (measured with
// after) for it to return; run's own error is returned, or
// errStopTimeout. The service wrappers of every OS share this so that a
// stop request always ends the service in bounded time.
func superviseService(run func(context.Context) error, stop <-chan struct{}, grace time.Duration, after func(time.Duration) <-chan time.Time) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-stop:
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-after(grace):
		return fmt.Errorf("%w (waited %s)", errStopTimeout, grace)
	}
}
