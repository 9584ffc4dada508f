// Package daemonbackend connects the desktop app to the cvpn daemon: it
// implements gui.Backend with the profile store for profiles and the local
// IPC client (app/ipc) for connections, events and credential questions.
package daemonbackend
