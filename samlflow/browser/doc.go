// Package browser opens the IdP sign-in URL in the desktop user's default
// browser, never as root. Run by root under sudo (Linux, macOS) it starts
// the opener (xdg-open / open) as SUDO_USER with that user's HOME, DISPLAY,
// WAYLAND_DISPLAY, XAUTHORITY, XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS;
// run by root without SUDO_USER it refuses and returns *ManualError so the
// caller prints the URL. Options.NoBrowser (--no-browser) also just returns
// *ManualError. Unprivileged callers start the first opener on PATH
// (xdg-open, x-www-browser, www-browser; open on macOS).
//
// The opener is never waited for: outside GNOME and KDE, xdg-open runs a
// browser that was not already running in the foreground and returns only
// when the user closes it. Start returns once the process has started; an
// *Opener reaps it and reports a failed exit through Done and Err.
package browser
