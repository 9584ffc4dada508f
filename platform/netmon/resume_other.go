//go:build !linux

package netmon

import "context"

// watchResume has no OS source here yet (IOKit power notifications on
// macOS and PBT_APMRESUMEAUTOMATIC on Windows need a run loop or a window
// message loop); the clock-jump check reports resumes.
func (m *Monitor) watchResume(ctx context.Context) {}
