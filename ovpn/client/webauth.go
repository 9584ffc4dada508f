package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// Bounds of a server's pending authentication (AUTH_PENDING): the wait
// without a timeout keyword, and the most the client waits whatever the
// server asks.
const (
	defaultAuthPending = 60 * time.Second
	maxAuthPending     = 10 * time.Minute
)

// ssoMethods is the client's IV_SSO: the pending-auth methods it handles.
var ssoMethods = []string{"openurl", "webauth", "crtext"}

// onAuthPending adopts the server's timeout for the pending
// authentication as the handshake's deadline (also when shorter, as
// OpenVPN does), within maxAuthPending.
func (l *link) onAuthPending(m ctrlmsg.AuthPending) {
	d := defaultAuthPending
	if m.Timeout > 0 {
		d = time.Duration(m.Timeout) * time.Second
	}
	d = min(d, maxAuthPending)
	l.pendingFor = d
	if l.extendHandshake != nil {
		l.extendHandshake(d)
	}
	l.log.Info("the server is waiting for authentication to complete", "timeout", d)
}

// onPendingInfo handles the INFO_PRE/INFO payloads of a pending
// authentication: WEB_AUTH and OPEN_URL show the sign-in page once (the
// browser as the user, or the URL printed), CR_TEXT asks the question and
// answers with CR_RESPONSE. It reports whether m was one of them.
func (l *link) onPendingInfo(ctx context.Context, m ctrlmsg.Info) (bool, error) {
	switch m.Kind {
	case ctrlmsg.InfoWebAuth, ctrlmsg.InfoOpenURL:
		if m.URL == l.webURL {
			return true, nil // one browser flow per page
		}
		l.webURL = m.URL
		l.cfg.emit(clientapi.Event{Event: clientapi.EventWebAuth, URL: m.URL})
		l.cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateWaitingForBrowser,
			Detail: "sign in with your browser; the server waits for it"})
		wa, ok := l.cfg.Federation.(clientapi.WebAuth)
		if !ok {
			l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "open this address in your browser to sign in: " + m.URL})
			return true, nil
		}
		if err := wa.OpenURL(ctx, m.URL); err != nil {
			l.log.Warn("could not open the sign-in page", "err", err)
			l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "open this address in your browser to sign in: " + m.URL})
		}
		return true, nil
	case ctrlmsg.InfoCRText:
		if l.cfg.Credentials == nil {
			return true, fmt.Errorf("%w: the server asks %q and there is no way to answer", clientapi.ErrAuthFailed, m.Text)
		}
		ans, err := l.cfg.Credentials.Challenge(ctx, m.Text, strings.Contains(m.Flags, "E"))
		if err != nil {
			return true, err
		}
		return true, l.sendMessage(ctrlmsg.CRResponse{Response: ans})
	}
	return false, nil
}
