// Package login1test is a fake systemd-logind on a private D-Bus daemon for
// tests: it owns org.freedesktop.login1 on a dbus-daemon of its own (never
// the system bus), emits the manager's PrepareForSleep signal, and serves
// sessions (GetSessionByPID, the session properties Active and Remote) so
// that code reading logind can be tested against a real bus. Point the
// code at Bus.Addr (DBUS_SYSTEM_BUS_ADDRESS for a child process).
// Test support only (Linux, dbus-daemon installed).
package login1test
