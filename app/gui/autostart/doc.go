// Package autostart turns "open the app when I log in" on and off for the
// current user: an XDG autostart desktop file on Linux, a LaunchAgent on
// macOS, a value under the Run key of the registry on Windows.
package autostart

// AtLoginFlag is the argument the login entry starts the app with, so that
// it connects the profiles marked "connect when I log in".
const AtLoginFlag = "--at-login"
