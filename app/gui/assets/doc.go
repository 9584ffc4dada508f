// Package assets draws the cvpn icon (a shield with a keyhole) in code and
// provides it as SVG and PNG, in the brand colour and in one colour per
// connection state for the system tray. The same geometry feeds both
// formats, so the desktop app, the tray and the packages share one icon.
package assets
