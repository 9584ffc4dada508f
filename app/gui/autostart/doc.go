// Package autostart turns "open the app when I log in" on and off for the
// current user: an XDG autostart desktop file on Linux, a LaunchAgent on
// macOS, a value under the Run key of the registry on Windows.
package autostart
