// Package ctrlmsg parses and builds the text control messages OpenVPN
// peers exchange over TLS after key method 2: PUSH_REQUEST, PUSH_REPLY
// (with a typed PushOptions, continuation merging, validation, pull
// filters and a server-side splitter), AUTH_FAILED with CRV1 dynamic
// challenges, AUTH_PENDING, INFO/INFO_PRE (WEB_AUTH, OPEN_URL, CR_TEXT),
// CR_RESPONSE, RESTART, HALT and EXIT, plus the SCRV1 static-challenge
// password encoding.
package ctrlmsg
