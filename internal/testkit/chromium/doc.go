// Package chromium starts headless Chromium (Debian's `chromium`) for
// end-to-end tests and drives it over the Chrome DevTools Protocol: open a
// URL, evaluate JavaScript in the page (fill and submit a login form), read
// the current location. It is a test helper: loopback only, one page, a
// throw-away profile directory, the process killed by PID on Close.
//
// WriteOpener writes a fake xdg-open that runs headless Chromium in the
// foreground (as xdg-open does outside GNOME and KDE when the browser is
// not running yet), so a test can open the sign-in page through the same
// opener path the product uses; Attach then drives that Chromium, and
// OpenerRun.Stop kills it by the opener's PID.
package chromium
