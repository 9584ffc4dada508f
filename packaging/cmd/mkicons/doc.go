// Command mkicons writes the cvpn app icon, drawn by app/gui/assets, in
// every file the packages need:
//
//	io.github.cvpn.svg       hicolor scalable icon (Debian cvpn-gui)
//	io.github.cvpn-256.png   hicolor 256x256 icon (Debian cvpn-gui)
//	cvpn.icns                macOS app bundle icon (16 to 1024 pixels)
//	cvpn.ico                 Windows shortcut and installer icon (16 to 256)
//
// Usage: go run ./packaging/cmd/mkicons -out DIR
package main
