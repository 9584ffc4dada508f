package browser

import (
	"context"
	"log/slog"

	pkgbrowser "github.com/pkg/browser"
)

func defaultSystem() system { return system{openURL: pkgbrowser.OpenURL} }

// openAs on Windows: there is no sudo; the client runs as the signed-in
// user (the service hands the URL to the unprivileged front end).
func openAs(ctx context.Context, rawURL string, log *slog.Logger, sys system) error {
	return sys.openURL(rawURL)
}
