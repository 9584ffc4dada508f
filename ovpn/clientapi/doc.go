// Package clientapi is the vocabulary a VPN client session shares with the
// programs around it: the connection State, the Event stream (whose JSON
// form is the `cvpn connect --json` contract), the Credentials and
// Federation a session asks the user through, and the errors a session ends
// with. It holds types only, and imports nothing of cvpn, so the GUI and
// the IPC protocol can speak about a connection without linking the client
// itself (ovpn/client), the platform layer or their OS libraries.
package clientapi
