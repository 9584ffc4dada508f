// Package xvfbshot takes screenshots of real desktop windows on a virtual X
// server: it starts Xvfb on a free display, grabs the screen with xwd,
// decodes the XWD image in Go and finds the area that differs from the empty
// screen (the application's window). The cvpn-xvfbshot program in
// ./cmd/cvpn-xvfbshot uses it to photograph the cvpn main window.
package xvfbshot
