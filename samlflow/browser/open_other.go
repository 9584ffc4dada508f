//go:build !linux && !darwin && !windows

package browser

import (
	"context"
	"log/slog"
	"os"

	pkgbrowser "github.com/pkg/browser"
)

func defaultSystem() system {
	return system{geteuid: os.Geteuid, run: runPlain}
}

func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) (*Opener, error) {
	if sys.geteuid() == 0 {
		return nil, &ManualError{URL: rawURL, Reason: "not opening a browser as root"}
	}
	if err := pkgbrowser.OpenURL(rawURL); err != nil {
		return nil, &ManualError{URL: rawURL, Reason: err.Error()}
	}
	return finished("browser", nil), nil
}
