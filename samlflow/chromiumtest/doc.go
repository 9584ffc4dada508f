// Package chromiumtest starts headless Chromium (Debian's `chromium`) for
// end-to-end tests and drives it over the Chrome DevTools Protocol: open a
// URL, evaluate JavaScript in the page (fill and submit a login form), read
// the current location. It is a test helper: loopback only, one page, a
// throw-away profile directory, the process killed by PID on Close.
package chromiumtest
