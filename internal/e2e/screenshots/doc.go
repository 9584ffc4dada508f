// Package screenshots drives the real cvpn main window over a fake backend
// through its main states (no connection, connected with traffic, login
// banner, MFA prompt) and writes a PNG of each. cvpn-gui runs it with
// -screenshots DIR; CI runs that under Xvfb.
package screenshots
