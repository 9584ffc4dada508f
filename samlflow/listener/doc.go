// Package listener is the client side of AWS Client VPN federated sign-in:
// a one-shot HTTP receiver bound to TCP 127.0.0.1:35001 (never another
// address) that accepts the IdP's browser POST carrying the SAMLResponse form
// field, thanks the user with a small page, releases the port and hands the
// response to the caller, who sends it as CRV1::<state_id>::<SAMLResponse>.
//
// Typical use:
//
//	l, err := listener.Listen(ctx, listener.Options{Logger: log})
//	if err != nil { ... } // *PortBusyError: "...There are no available ports."
//	defer l.Close()
//	browser.Open(ctx, idpURL, ...)
//	samlResponse, err := l.Wait(ctx)
package listener
