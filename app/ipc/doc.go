// Package ipc is the local API between the privileged cvpn daemon and its
// unprivileged front ends (the cvpn CLI and the cvpn-gui desktop app).
//
// # Transport
//
// On Linux and macOS the daemon listens on a unix socket (DefaultSocketPath:
// /run/cvpn/cvpn.sock on Linux, /var/run/cvpn/cvpn.sock on macOS; the
// CVPN_SOCKET environment variable overrides it for the daemon, the CLI and
// the GUI). The socket is mode 0666: whether a request is allowed is decided
// per request from the peer credentials the kernel reports for the
// connection (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS), see Peer.
//
// On Windows the daemon listens on the named pipe \\.\pipe\cvpn
// (CVPN_SOCKET overrides it too). The pipe's security descriptor
// (PipeSDDL) is owned by BUILTIN\Administrators, gives SYSTEM and
// Administrators full access and lets authenticated local users connect,
// read and write but not create pipe instances. The daemon identifies each
// client from the token of the pipe's client process (Peer.SID, Peer.Admin
// for LocalSystem and elevated administrators); front ends refuse a pipe not
// owned by SYSTEM or Administrators, so a program that took the name before
// the daemon started never receives their requests or passwords.
//
// # Wire protocol (version 1)
//
// Each message is one JSON object on one line (newline-delimited JSON, at
// most MaxMessageSize bytes), see Message. Every message carries "v":1; the
// daemon answers a message of another version with an error response and
// closes the connection. A front end sends requests with a client-chosen
// "id"; the daemon answers each with a "response" of the same id:
//
//	-> {"v":1,"id":1,"type":"status"}
//	<- {"v":1,"id":1,"type":"response","ok":true,"connections":[...]}
//	-> {"v":1,"id":2,"type":"connect","name":"work","profile":"client\nremote ...","bind":true}
//	<- {"v":1,"id":2,"type":"response","ok":true}
//	<- {"v":1,"type":"credentials","cred_id":1,"name":"work","kind":"userpass"}
//	-> {"v":1,"type":"credentials-answer","cred_id":1,"user":"u","password":"..."}
//	<- {"v":1,"type":"event","name":"work","event":{"time":"...","event":"state","state":"connected",...}}
//	-> {"v":1,"id":3,"type":"disconnect","name":"work"}
//	<- {"v":1,"id":3,"type":"response","ok":true,"names":["work"]}
//	<- {"v":1,"type":"ended","name":"work","result":{"reason":"disconnected by request"}}
//
// The daemon pushes to the front end that started a connection its events
// ("event", the same objects as `cvpn connect --json`, tagged with the
// connection name), its questions ("credentials": user name and password,
// or a challenge such as an MFA code; answered with "credentials-answer")
// and its end ("ended", with the reason and whether the server refused the
// credentials). Two questions run a browser as the desktop user, never as
// the daemon: kind "saml" (the IdP address in "url"; the answer carries
// the SAMLResponse) and kind "web-auth" (the sign-in page of an OpenVPN
// server's pending authentication, WEB_AUTH/OPEN_URL, in "url"; answered
// once the page is shown, or with an error). A server's CR_TEXT question
// is a "challenge". A "subscribe" request adds the events of every connection.
// A connect with "block_when_down":true blocks traffic outside the tunnel
// while it is down; {"type":"unblock"} lifts the blocks the caller may lift
// (its own; an administrator's: also those the policy forced) and the
// response's "text" says what was removed. Both need a Handler that is
// also a Blocker.
// Secrets in credentials answers are never logged: Message implements
// slog.LogValuer without them.
//
// # Using it from a front end
//
// Dial returns a Client; ClientOptions say where pushed events, ends and
// credential questions go. Client.Connect (ConnectWith),
// Client.Disconnect, Client.Unblock, Client.Status and Client.Subscribe are
// the requests. A GUI dials,
// subscribes and keeps the Client until its Done channel closes (the daemon
// stopped or was killed: nothing it knew about the connections is current
// any more), then dials again with a bounded backoff and resynchronises
// from Status. NotRunningError (IsNotRunning) tells it the daemon is not
// running; its message names the one command that starts the installed
// service (StartCommand).
//
// The daemon side is Server, which serves a Listener (from Listen) and hands
// requests to a Handler (the connection manager, package app/daemon).
package ipc
