// Command cvpn is the cvpn command line: profile management, connections,
// the privileged daemon and the reference server. The main package only
// parses flags and wires packages together; each command is one file
// holding a command value (name, summary, run function) listed in
// commands().
package main
