//go:build cgo

package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/theme"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/guitest"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/tools/xvfbshot"
)

func main() {
	out := flag.String("out", filepath.Join("build", "screenshots"), "folder for the PNG files")
	light := flag.Bool("light", false, "light theme instead of dark")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	full := flag.Bool("full-screen", false, "keep the whole virtual screen instead of cropping to the window")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(logger, config{out: *out, light: *light, timeout: *timeout, full: *full}); err != nil {
		fmt.Fprintln(os.Stderr, "cvpn-xvfbshot:", err)
		os.Exit(1)
	}
}

type config struct {
	out     string
	light   bool
	timeout time.Duration
	full    bool
}

func run(logger *slog.Logger, c config) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	srv, err := xvfbshot.Start(ctx, xvfbshot.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	base, err := srv.Grab(ctx)
	if err != nil {
		return err
	}

	// The app's preferences and profiles live in a temporary folder; GL
	// renders in software on the virtual screen.
	tmp, err := os.MkdirTemp("", "cvpn-xvfbshot-")
	if err != nil {
		return err
	}
	defer removeSettled(tmp)
	runtimeDir := filepath.Join(tmp, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"XDG_RUNTIME_DIR": runtimeDir,
		"DISPLAY":         srv.Display(), "LIBGL_ALWAYS_SOFTWARE": "1", "XDG_CONFIG_HOME": filepath.Join(tmp, "config"),
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	store, err := profilestore.Open(filepath.Join(tmp, "profiles"), profilestore.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := guitest.AddExampleProfiles(store); err != nil {
		return err
	}

	a := app.NewWithID("io.github.cvpn.screenshots")
	variant := theme.VariantDark
	if c.light {
		variant = theme.VariantLight
	}
	a.Settings().SetTheme(gui.ThemeVariant(variant))
	now := time.Now()
	u := gui.New(a, guitest.New(store, nil), gui.Options{Logger: logger, Now: func() time.Time { return now }})
	w := u.Window()
	w.Resize(windowSize)
	w.Show()

	// The driver goroutine runs the script and quits the app; run waits
	// for it after the app's loop ends.
	var scriptErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer fyne.Do(a.Quit)
		scriptErr = shoot(ctx, logger, srv, base, u, now, c)
	}()
	// If the app does not quit in time, stop the X server: the GL driver
	// then ends the process, and the deferred cleanup above does not run,
	// so remove the temporary folder here first.
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-stopWatch:
		case <-ctx.Done():
			select {
			case <-stopWatch:
			case <-time.After(10 * time.Second):
				logger.Error("app did not quit; stopping Xvfb", "timeout", c.timeout)
				os.RemoveAll(tmp)
				srv.Close()
				os.Exit(1)
			}
		}
	}()
	a.Run()
	close(stopWatch)
	<-watchDone
	<-done
	return scriptErr
}

// windowSize is the main window's size on the virtual screen (no window
// manager, so no decorations and no scaling).
var windowSize = fyne.NewSize(900, 560)

func shoot(ctx context.Context, logger *slog.Logger, srv *xvfbshot.Server, base *image.RGBA, u *gui.UI, now time.Time, c config) error {
	for _, s := range guitest.Scenes(u, now) {
		file := "real-" + s.Name + ".png"
		fyne.DoAndWait(s.Apply)
		// Let the GL loop paint at least one frame of the new state.
		select {
		case <-time.After(400 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		shot, err := srv.WaitSettled(ctx, base, 250*time.Millisecond, 20*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		// The window must be on screen at (about) the size asked for: a
		// stray pixel or a half-painted frame is not a screenshot.
		if d := shot.Window.Size(); float32(d.X) < 0.9*windowSize.Width || float32(d.Y) < 0.9*windowSize.Height {
			return fmt.Errorf("%s: drawn area %v is smaller than the %vx%v window", file, shot.Window,
				windowSize.Width, windowSize.Height)
		}
		img := shot.Screen
		if !c.full {
			img = xvfbshot.Crop(shot.Screen, shot.Window)
		}
		path := filepath.Join(c.out, file)
		if err := writePNG(path, img); err != nil {
			return err
		}
		logger.Info("screenshot", "file", path, "window", shot.Window, "settled", shot.Settled)
	}
	return nil
}

func writePNG(path string, img *image.RGBA) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// removeSettled removes dir. fyne's settings watcher recreates its folder
// when it sees it removed while it is still shutting down, so this checks
// for a second and removes it again if it came back.
func removeSettled(dir string) {
	for range 10 {
		os.RemoveAll(dir)
		time.Sleep(100 * time.Millisecond)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
	}
}
