package killswitch

import "log/slog"

// Open returns the backend of the running OS.
func Open(logger *slog.Logger) (Firewall, error) { return &PF{Logger: logger}, nil }
