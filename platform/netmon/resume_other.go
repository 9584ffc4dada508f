//go:build !linux && !windows

package netmon

import "context"

// watchResume has no OS source here: macOS's IOKit power notifications
// (IORegisterForSystemPower) need cgo and a CFRunLoop, which cvpn does not
// link; the clock-jump check reports resumes.
func (m *Monitor) watchResume(ctx context.Context) {}
