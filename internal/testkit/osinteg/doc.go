// Package osinteg is the harness of the macOS and Windows integration
// tests (TestOS*): they run only when CVPN_OS_INTEGRATION=1 is set and the
// process has administrator rights, change the machine's own routes and
// DNS within the TEST-NET prefixes only, and compare the system state
// before and after.
package osinteg
