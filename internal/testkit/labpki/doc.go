// Package labpki holds what only tests need on top of the product PKI
// (ovpn/server/pki): loading a CA back from the files `cvpn server init`
// wrote, so a test can issue more client certificates or revoke one after
// the lab exists. Import it only from tests.
package labpki
