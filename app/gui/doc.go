// Package gui is the cvpn desktop application built with fyne: the main
// window (profiles, one connect/disconnect control per profile, live
// status, login banner, credential and MFA dialogs, per-connection logs,
// settings), the system tray menu and desktop notifications.
//
// The UI talks to the rest of cvpn only through the Backend interface
// (profiles plus connections owned by the privileged daemon), so it can be
// driven by a fake in tests and screenshots. Every change to widgets runs on
// the fyne main goroutine; background work queues its results in the UI's
// inbox, which one goroutine hands to fyne.Do in order.
//
// When the connection to the daemon drops, every connection that was not
// disconnected turns to StateUnknown at once (no addresses, no duration),
// its log says so, and the UI retries with a bounded backoff and
// resynchronises from a status snapshot when the daemon is back.
package gui
