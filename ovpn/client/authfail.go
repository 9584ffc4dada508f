package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// onAuthFailed decides what follows an AUTH_FAILED: a fatal error, or a
// reason to ask for credentials again ("" = retry without asking).
func (c *Client) onAuthFailed(ae *authError) (string, error) {
	c.mu.Lock()
	hadToken := c.token != ""
	webToken := hadToken && c.webToken
	c.token, c.tokenUser, c.webToken = "", "", false
	c.mu.Unlock()
	m := ae.msg
	if hadToken && c.cfg.Profile.Auth.Federated && m.Challenge == nil {
		// The sign-in ended (session timeout): the browser flow starts
		// again from phase 1; the spent assertion is never sent again.
		c.cfg.logger().Info("the federated sign-in expired; signing in again with the browser", "reason", m.Reason)
		c.cfg.emit(clientapi.Event{Event: clientapi.EventReauthRequired, Message: "your sign-in expired; sign in again"})
		return "", nil
	}
	if ch := m.Challenge; ch != nil && c.cfg.Profile.Auth.Federated && isURL(ch.Text) {
		resp, err := c.federatedSignIn(ae, ch)
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.saml = ctrlmsg.CRV1Response(ch.StateID, resp)
		c.mu.Unlock()
		return "", nil
	}
	if ch := m.Challenge; ch != nil {
		resp, err := c.askChallenge(ch)
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.crv1 = ctrlmsg.CRV1Response(ch.StateID, resp)
		if ch.Username != "" {
			c.user = ch.Username
		}
		c.mu.Unlock()
		return "", nil
	}
	if webToken && m.Challenge == nil {
		// The web sign-in ended (session timeout, a new session): the
		// server shows a new sign-in page for the next attempt; the
		// spent page is never opened again.
		c.cfg.logger().Info("the web sign-in expired; signing in again with the browser", "reason", m.Reason)
		c.cfg.emit(clientapi.Event{Event: clientapi.EventReauthRequired, Message: "your sign-in expired; sign in again"})
	}
	if hadToken {
		c.cfg.logger().Info("the server no longer accepts the session token; signing in again")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.cfg.Profile.StaticChallenge != nil || c.cfg.Profile.AuthNoCache {
			c.haveCreds = false
		}
		return "", nil
	}
	return "", fmt.Errorf("%w: %s", clientapi.ErrAuthFailed, plainAuthReason(m.Reason))
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// federatedSignIn runs the browser part of a SAML sign-in for the IdP URL
// of a phase 1 CRV1 challenge and pins the server address for phase 2.
func (c *Client) federatedSignIn(ae *authError, ch *ctrlmsg.Challenge) (string, error) {
	c.mu.Lock()
	c.pinned = ae.server
	c.mu.Unlock()
	c.cfg.emit(clientapi.Event{Event: clientapi.EventSAML, URL: ch.Text})
	c.cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateWaitingForBrowser, Detail: "sign in with your browser"})
	resp, err := c.cfg.Federation.SignIn(c.runCtx, ch.Text)
	if err != nil {
		return "", fmt.Errorf("%w: browser sign-in: %w", clientapi.ErrAuthFailed, err)
	}
	if len(resp) > 128<<10 {
		return "", fmt.Errorf("%w: the SAML response (%d bytes) exceeds the maximum size of 131072 bytes", clientapi.ErrAuthFailed, len(resp))
	}
	return resp, nil
}

func (c *Client) askChallenge(ch *ctrlmsg.Challenge) (string, error) {
	if c.cfg.Credentials == nil {
		return "", fmt.Errorf("%w: the server asks %q and there is no way to answer", clientapi.ErrAuthFailed, ch.Text)
	}
	return c.cfg.Credentials.Challenge(context.Background(), ch.Text, ch.Echo())
}

func plainAuthReason(r string) string {
	switch {
	case r == "":
		return "the server refused the user name, password or certificate; check them and try again"
	case strings.Contains(r, "SESSION:"):
		return "the session expired; sign in again"
	}
	return "the server said: " + r
}
