// Package control runs the OpenVPN control channel with one peer, in the
// client or the server role: the hard reset exchange (the client resends
// its HARD_RESET_CLIENT_V2 until answered, because OpenVPN 2.6 servers
// answer statelessly and never resend theirs), then one reliable sequence
// and one TLS byte stream per key_id, exposed as a net.Conn (Stream) so
// crypto/tls.Client or crypto/tls.Server can run over it.
//
// The caller owns the socket: it passes a send function for raw packets and
// feeds every incoming control packet to HandleIncoming. The Channel owns
// one goroutine (retransmissions, ACKs, the hand-window timer) that stops on
// Close or when its context ends. Renegotiation (SOFT_RESET_V1) gets a fresh
// reliable sequence and a fresh Stream per key_id; old keys keep working
// until RetireKey.
package control
