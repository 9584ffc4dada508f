// Command cvpn-gui is the cvpn desktop application: main window, system
// tray and notifications over the cvpn daemon.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2/app"

	"github.com/cvpn/cvpn/app/diagnose"
	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/autostart"
	"github.com/cvpn/cvpn/app/gui/daemonbackend"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
)

const appID = "io.github.cvpn"

func main() {
	atLogin := flag.Bool(autostart.AtLoginFlag[2:], false, "started by the login entry: connect the profiles marked \"connect when I log in\"")
	policyFile := flag.String("policy", "", "the administrator's policy `FILE` (default $"+policy.EnvPolicy+" or "+policy.DefaultPath()+")")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(logger, *atLogin, *policyFile); err != nil {
		fmt.Fprintln(os.Stderr, "cvpn-gui:", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, atLogin bool, policyFile string) error {
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return err
	}
	pol, polErr := policy.Load(policy.Resolve(policyFile))
	if polErr != nil {
		logger.Error("policy file", "err", polErr)
		pol.AllowUserProfiles = false // the safe reading of a policy that cannot be read
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
	b := newBackend(store, pol)
	b.BlockWhenDown = func(name string) bool {
		return a.Preferences().BoolWithFallback(gui.PrefBlockWhenDown(name), false)
	}
	defer b.Close() // after u.Stop: the UI's goroutines no longer use it
	u := gui.New(a, b, gui.Options{
		Logger:       logger,
		SetAutostart: func(on bool) error { return autostart.Set(appID, exe, on) },
		AtLogin:      atLogin,
		// Autoconnect profiles the daemon could not connect alone
		// (password, MFA, SAML) are asked for by this app.
		ManagedAutoconnect: pol.Autoconnect,
		SaveDiagnostics: func(ctx context.Context) (string, error) {
			dir, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			path := filepath.Join(dir, diagnose.DefaultName(time.Now()))
			_, err = diagnose.Save(ctx, path, diagnose.Options{Version: version(), PolicyPath: pol.Path, UserRoot: root,
				Daemon: diagnose.FromDaemon(ipc.SocketPath(), 10*time.Second)})
			return path, err
		},
	})
	u.Start()
	defer u.Stop()
	if polErr != nil {
		u.PolicyProblem(polErr)
	}
	u.Window().ShowAndRun()
	return nil
}

// newBackend connects the UI to the daemon (CVPN_SOCKET or the default
// socket); profiles come from the user's own store and the policy's
// system profiles.
func newBackend(store *profilestore.Store, pol policy.Policy) *daemonbackend.Backend {
	return &daemonbackend.Backend{StoreProfiles: gui.StoreProfiles{Store: store,
		System: profilestore.OpenSystem(pol.ProfilesDir, profilestore.Options{}), UserProfilesOff: !pol.AllowUserProfiles}}
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
