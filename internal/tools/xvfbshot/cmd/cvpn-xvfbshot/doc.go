// Command cvpn-xvfbshot photographs the real cvpn desktop window: it starts
// Xvfb, opens the cvpn main window with the OpenGL driver (Mesa software
// rendering) over a fake backend, drives it through its main states
// (disconnected, connected with traffic, login banner, error) and writes
// build/screenshots/real-*.png from `xwd` grabs of the virtual screen.
//
//	go run ./internal/tools/xvfbshot/cmd/cvpn-xvfbshot -out build/screenshots
//
// It needs cgo (fyne's GL driver), Xvfb (Debian xvfb) and xwd (x11-apps).
package main
