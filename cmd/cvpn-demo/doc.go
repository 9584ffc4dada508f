// Command cvpn-demo runs the whole job end to end on one Linux machine, as
// `make demo` does: it builds a lab of network namespaces (client, server,
// lan), starts the bundled reference server (`cvpn server run`) in the
// server namespace with a login banner, split tunnel to the lan and client
// route enforcement, connects with `cvpn connect` from the client namespace,
// proves the tunnel with ping and 20 MB transfers in both directions,
// shows the server's view and connection log, disconnects, and checks that
// nothing was left behind. It needs root.
package main
