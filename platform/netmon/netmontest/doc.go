// Package netmontest is a fake network monitor (netmon.Notifier) for tests
// of the packages that react to network changes: the test injects changes
// with Send.
package netmontest
