//go:build !linux && !darwin && !windows

package listener

import "context"

// portHolder: this OS gives no portable way to tell.
func portHolder(ctx context.Context, port int) string { return "" }
