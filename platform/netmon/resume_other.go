//go:build !linux && !windows && !darwin

package netmon

import "context"

// watchResume has no OS source here; the clock-jump check reports resumes.
func (m *Monitor) watchResume(ctx context.Context) {}
