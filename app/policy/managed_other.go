//go:build !windows && !darwin

package policy

// OSSource is nil on Linux: the policy file is the one source there.
func OSSource() Source { return nil }
