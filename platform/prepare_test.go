package platform_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/platformtest"
	"github.com/cvpn/cvpn/routing"
)

// A device prepared during the handshake is recorded in the state file at
// once, taken over by Apply (no second device), and everything, the
// device included, is gone after Close.
func TestPrepareThenApply(t *testing.T) {
	sys, c := preparing(t)
	before := sys.Routes()
	p, err := c.Prepare("", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "cvpn0" {
		t.Fatalf("prepared name %q, want cvpn0", p.Name())
	}
	ifc, ok := sys.Interface("cvpn0")
	if !ok || !ifc.TUN || ifc.Up || len(ifc.Addresses) != 0 {
		t.Fatalf("prepared interface %+v: want a TUN that is down and has no address", ifc)
	}
	if !reflect.DeepEqual(sys.Routes(), before) {
		t.Fatal("Prepare changed the routing table")
	}
	state := platform.StatePath(c.StateDir, platform.DefaultID)
	data, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(data), `"tun": "cvpn0"`) {
		t.Fatalf("state file after Prepare: %v\n%s", err, data)
	}

	cfg := fullConfig()
	cfg.Prepared = p
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "cvpn0" || a.Device == nil {
		t.Fatalf("Apply gave %q (device %v), want the prepared cvpn0", a.Name, a.Device)
	}
	if got := sys.Interfaces(); !reflect.DeepEqual(got, []string{"cvpn0", "eth0", "lo"}) {
		t.Errorf("interfaces %v: want eth0 and one TUN", got)
	}
	ifc, _ = sys.Interface("cvpn0")
	if !ifc.Up || ifc.MTU != 1400 || len(ifc.Addresses) != 2 {
		t.Errorf("configured interface %+v: want up, MTU 1400 (pushed), 2 addresses", ifc)
	}
	if len(a.Routes()) != 12 {
		t.Errorf("%d routes added, want 12", len(a.Routes()))
	}
	// The prepared device belongs to the Applied now: closing the
	// Prepared must not remove it.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := sys.Interface("cvpn0"); !ok {
		t.Fatal("closing the taken-over Prepared removed the tunnel's device")
	}
	if _, err := c.Apply(cfg); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("second Apply with the same Prepared: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sys.Routes(), before) {
		t.Errorf("routes after Close:\n%s", routeStrings(sys.Routes()))
	}
	if _, ok := sys.Interface("cvpn0"); ok {
		t.Error("TUN left after Close")
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
}

// A connection attempt that fails (wrong password, server gone) closes the
// prepared device: nothing is left.
func TestPrepareClose(t *testing.T) {
	sys, c := preparing(t)
	p, err := c.Prepare("work", "vpn%d", 1300)
	if err != nil {
		t.Fatal(err)
	}
	if ifc, ok := sys.Interface("vpn0"); !ok || ifc.MTU != 1300 {
		t.Fatalf("prepared vpn0: %+v %v", ifc, ok)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertOnlyLAN(t, sys, "after Close")
	if _, err := os.Stat(platform.StatePath(c.StateDir, "work")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
	if p.Name() != "" {
		t.Errorf("Name after Close %q", p.Name())
	}
}

// A prepared device whose process was killed is removed by Recover, like
// any other recorded device.
func TestRecoverRemovesPreparedDevice(t *testing.T) {
	sys, c := preparing(t)
	c.ProcessAlive = func(int) bool { return false }
	if _, err := c.Prepare("", "", 0); err != nil {
		t.Fatal(err)
	}
	// The process is gone (ProcessAlive) but its device is still there, as a
	// Wintun adapter or a macOS utun in a hung process would be.
	if err := c.Recover(); err != nil {
		t.Fatal(err)
	}
	assertOnlyLAN(t, sys, "after Recover")
}

// Apply refuses a Prepared of another tunnel and removes it, and a failed
// Apply removes the prepared device with everything else.
func TestApplyPreparedMismatchAndFailure(t *testing.T) {
	sys, c := preparing(t)
	p, err := c.Prepare("other", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fullConfig()
	cfg.Prepared = p
	if _, err := c.Apply(cfg); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Apply with another tunnel's device: %v", err)
	}
	assertOnlyLAN(t, sys, "after the refused Apply")

	p, err = c.Prepare("", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg = fullConfig()
	cfg.Prepared = p
	cfg.NetGatewayRoutes = nil
	sys.FailAdd = func(routing.Route) error { return errors.New("injected") }
	_, err = c.Apply(cfg)
	sys.FailAdd = nil
	if err == nil {
		t.Fatal("Apply succeeded with failing route adds")
	}
	assertOnlyLAN(t, sys, "after the failed Apply")
	if _, err := os.Stat(platform.StatePath(c.StateDir, platform.DefaultID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
}

// preparing returns the LAN fake system and a Configurator on a fresh
// state directory.
func preparing(t *testing.T) (*platformtest.System, *platform.Configurator) {
	t.Helper()
	sys := lan(t)
	return sys, &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
}

// assertOnlyLAN fails when any interface but the LAN's is left (a TUN
// device that should be gone).
func assertOnlyLAN(t *testing.T, sys *platformtest.System, when string) {
	t.Helper()
	if got := sys.Interfaces(); !reflect.DeepEqual(got, []string{"eth0", "lo"}) {
		t.Errorf("interfaces %s: %v", when, got)
	}
}
