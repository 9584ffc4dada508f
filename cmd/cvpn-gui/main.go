// Command cvpn-gui is the cvpn desktop application. This first version opens
// the main window with the product name and the daemon socket it will use;
// profiles, connections and the tray arrive with the desktop-app issue.
package main

import (
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("io.github.cvpn")
	w := a.NewWindow("cvpn")
	socket := os.Getenv("CVPN_SOCKET")
	if socket == "" {
		socket = "/run/cvpn/cvpn.sock"
	}
	w.SetContent(container.NewVBox(
		widget.NewLabelWithStyle("cvpn", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
		widget.NewLabel("OpenVPN and AWS Client VPN client"),
		widget.NewLabel("Daemon socket: "+socket),
	))
	w.Resize(fyne.NewSize(420, 240))
	w.ShowAndRun()
}
