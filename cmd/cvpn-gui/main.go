// Command cvpn-gui is the cvpn desktop application: main window, system
// tray and notifications over the cvpn daemon.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"fyne.io/fyne/v2/app"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/autostart"
	"github.com/cvpn/cvpn/app/gui/daemonbackend"
	"github.com/cvpn/cvpn/app/profilestore"
)

const appID = "io.github.cvpn"

func main() {
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(logger); err != nil {
		fmt.Fprintln(os.Stderr, "cvpn-gui:", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return err
	}
	store, err := profilestore.Open(root, profilestore.Options{Logger: logger})
	if err != nil {
		return err
	}
	a := app.NewWithID(appID)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	b := newBackend(store)
	b.BlockWhenDown = func(name string) bool {
		return a.Preferences().BoolWithFallback(gui.PrefBlockWhenDown(name), false)
	}
	defer b.Close() // after u.Stop: the UI's goroutines no longer use it
	u := gui.New(a, b, gui.Options{
		Logger:       logger,
		SetAutostart: func(on bool) error { return autostart.Set(appID, exe, on) },
	})
	u.Start()
	defer u.Stop()
	u.Window().ShowAndRun()
	return nil
}

// newBackend connects the UI to the daemon (CVPN_SOCKET or the default
// socket); profiles come from the user's own store.
func newBackend(store *profilestore.Store) *daemonbackend.Backend {
	return &daemonbackend.Backend{StoreProfiles: gui.StoreProfiles{Store: store}}
}
