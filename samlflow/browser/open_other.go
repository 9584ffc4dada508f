//go:build !linux && !darwin && !windows

package browser

import (
	"context"
	"log/slog"
	"os"

	pkgbrowser "github.com/pkg/browser"
)

func defaultSystem() system { return system{geteuid: os.Geteuid, openURL: pkgbrowser.OpenURL} }

func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) error {
	if sys.geteuid() == 0 {
		return &ManualError{URL: rawURL, Reason: "not opening a browser as root"}
	}
	return sys.openURL(rawURL)
}
