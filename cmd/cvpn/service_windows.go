package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceName is the name of the cvpn daemon in the Windows service
// manager.
const serviceName = "cvpn"

// serviceStopGrace bounds how long a stop request waits for the daemon to
// close its tunnels and restore routes and DNS.
const serviceStopGrace = 30 * time.Second

// serviceLogPath is where the service writes the daemon's log (the service
// has no console): %ProgramData%\cvpn\logs\service.log.
func serviceLogPath() string {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	return filepath.Join(base, "cvpn", "logs", "service.log")
}

func installService(stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate cvpn.exe: %w", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %q is already installed; run cvpn service uninstall first", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "cvpn VPN daemon",
		Description: "Creates the VPN tunnels, routes and DNS settings that cvpn and cvpn-gui ask for.",
		StartType:   mgr.StartAutomatic,
		// LocalSystem: the daemon configures adapters, routes and DNS.
		ServiceStartName: "",
	}, "service", "run")
	if err != nil {
		return fmt.Errorf("create service %q: %w", serviceName, err)
	}
	defer s.Close()
	restart := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.NoAction},
	}
	if err := s.SetRecoveryActions(restart, uint32((24 * time.Hour).Seconds())); err != nil {
		s.Delete()
		return fmt.Errorf("set restart-on-failure for service %q: %w", serviceName, err)
	}
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !isAlreadyExists(err) {
		s.Delete()
		return fmt.Errorf("register event log source %q: %w", serviceName, err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("service %q installed but did not start: %w (log: %s)", serviceName, err, serviceLogPath())
	}
	fmt.Fprintf(stdout, "service %q installed (%s service run) and started; log: %s\n", serviceName, exe, serviceLogPath())
	return nil
}

// isAlreadyExists matches eventlog's "registry key already exists" error
// (a plain error string): the source is left from an earlier install.
func isAlreadyExists(err error) bool {
	return strings.Contains(err.Error(), "already exists")
}

func uninstallService(stdout io.Writer) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %q is not installed: %w", serviceName, err)
	}
	defer s.Close()
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service %q: %w", serviceName, err)
		}
		deadline := time.Now().Add(serviceStopGrace + 5*time.Second)
		for {
			st, err := s.Query()
			if err != nil {
				return fmt.Errorf("query service %q: %w", serviceName, err)
			}
			if st.State == svc.Stopped {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("service %q did not stop within %s", serviceName, serviceStopGrace+5*time.Second)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %q: %w", serviceName, err)
	}
	eventlog.Remove(serviceName)
	fmt.Fprintf(stdout, "service %q stopped and removed\n", serviceName)
	return nil
}

func runAsService(daemon func(context.Context, io.Writer) error, stderr io.Writer) error {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return fmt.Errorf("detect the service manager: %w", err)
	}
	if !isService {
		return errors.New("this is started by the Windows service manager (cvpn service install); to run the daemon in a console use cvpn daemon")
	}
	logPath := serviceLogPath()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("service log folder: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("service log %s: %w", logPath, err)
	}
	defer logFile.Close()
	h := serviceHandler{
		run: func(ctx context.Context) error { return daemon(ctx, logFile) },
		failed: func(err error) {
			fmt.Fprintf(logFile, "cvpn service: %v\n", err)
			if el, oerr := eventlog.Open(serviceName); oerr == nil {
				el.Error(1, err.Error())
				el.Close()
			}
		},
	}
	return svc.Run(serviceName, h)
}

// serviceHandler adapts superviseService to the Windows service control
// protocol: Running once the daemon is started, StopPending on Stop or
// Shutdown, and a service-specific exit code 1 when the daemon failed.
type serviceHandler struct {
	run    func(context.Context) error
	failed func(error)
}

func (h serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	stop := make(chan struct{})
	result := make(chan error, 1)
	go func() { result <- superviseService(h.run, stop, serviceStopGrace, time.After) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	stopping := false
	for {
		select {
		case err := <-result:
			if err != nil {
				h.failed(err)
				return true, 1
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if !stopping {
					stopping = true
					status <- svc.Status{State: svc.StopPending, WaitHint: uint32(serviceStopGrace / time.Millisecond)}
					close(stop)
				}
			}
		}
	}
}
