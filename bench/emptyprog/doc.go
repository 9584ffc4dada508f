// Command emptyprog is a Go program that does nothing. The connect
// benchmark (TestConnectTimeline) starts it like the clients to measure the
// Go runtime's own start-up cost on the machine, the floor under `cvpn`'s.
package main
