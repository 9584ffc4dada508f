package browser

import (
	"context"
	"log/slog"

	pkgbrowser "github.com/pkg/browser"
)

func defaultSystem() system { return system{run: runPlain} }

// openAs on Windows: there is no sudo; the client runs as the signed-in
// user (the service hands the URL to the unprivileged front end). The
// shell's URL handler returns as soon as the browser is asked.
func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) (*Opener, error) {
	if err := pkgbrowser.OpenURL(rawURL); err != nil {
		return nil, &ManualError{URL: rawURL, Reason: err.Error()}
	}
	return finished("browser", nil), nil
}
