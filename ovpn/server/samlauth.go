package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cvpn/cvpn/samlflow"
	"github.com/cvpn/cvpn/samlflow/sp"
)

// SAML sign-in protocol markers (see the AWS Client VPN federated flow).
const (
	samlPhase1Prefix = "ACS::"  // phase 1 password: ACS::<port>
	samlPhase2Prefix = "CRV1::" // phase 2 password: CRV1::<state>::<SAMLResponse>
	samlStateTTL     = 10 * time.Minute
	samlMaxStates    = 10000
	// samlTokenTTL bounds how long a pushed auth-token signs a client back
	// in without the browser when no session timeout is set (the longest
	// AWS session timeout); see SetSessionTimeout.
	samlTokenTTL = 24 * time.Hour
)

// Client messages of federated refusals (they follow "AUTH_FAILED,").
const (
	msgSAMLNotFederated = "this endpoint uses federated (SAML) sign-in: use a profile with auth-federate"
	msgSAMLRejected     = "the SAML sign-in was rejected; sign in again"
	msgSAMLTooLarge     = "the SAML response exceeds the maximum size (128 KB)"
	msgSAMLUnknownState = "the SAML sign-in expired or was already used; sign in again"
	msgSAMLOtherAddress = "the SAML sign-in was started from another address; sign in again"
	// msgSAMLSessionExpired refuses an auth-token older than the session
	// timeout; clients recognise "SESSION:" as "sign in again".
	msgSAMLSessionExpired = "SESSION:the session expired; sign in again"
)

// SAMLAuthenticator implements federated (SAML 2.0) authentication the way
// AWS Client VPN does: phase 1 (password "ACS::<port>") starts a sign-in
// and answers with a CRV1 challenge carrying the IdP URL; phase 2 (password
// "CRV1::<state>::<SAMLResponse>") validates the IdP's response. The NameID
// becomes the username and memberOf the groups.
type SAMLAuthenticator struct {
	sp  *sp.SP
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	tokenTTL time.Duration                   // how long a sign-in lasts (the session timeout)
	states   map[string]samlState            // state id -> where phase 1 came from
	tokens   map[[sha256.Size]byte]samlToken // SHA-256 of an auth-token -> user
}

type samlToken struct {
	id      Identity
	expires time.Time
}

type samlState struct {
	peer    netip.Addr
	expires time.Time
}

// NewSAMLAuthenticator builds the authenticator from the IdP's metadata
// XML. now and log may be nil.
func NewSAMLAuthenticator(idpMetadata []byte, now func() time.Time, log *slog.Logger) (*SAMLAuthenticator, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := sp.New(sp.Config{IdPMetadata: idpMetadata, StateTTL: samlStateTTL, MaxPending: samlMaxStates, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	return &SAMLAuthenticator{sp: p, now: now, log: log, tokenTTL: samlTokenTTL, states: map[string]samlState{},
		tokens: map[[sha256.Size]byte]samlToken{}}, nil
}

// LoadSAMLAuthenticator reads the IdP metadata file named by the
// authentication.saml_idp_metadata setting.
func LoadSAMLAuthenticator(path string, now func() time.Time, log *slog.Logger) (*SAMLAuthenticator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authentication.saml_idp_metadata: %w", err)
	}
	a, err := NewSAMLAuthenticator(b, now, log)
	if err != nil {
		return nil, fmt.Errorf("authentication.saml_idp_metadata %s: %w", path, err)
	}
	return a, nil
}

// SetSessionTimeout makes sign-ins last d (the endpoint's
// session_timeout_hours), as on AWS: the auth-token pushed after a
// federated sign-in signs the client back in only until d after that
// sign-in; then the user must sign in again through the browser.
func (a *SAMLAuthenticator) SetSessionTimeout(d time.Duration) {
	if d <= 0 {
		return
	}
	a.mu.Lock()
	a.tokenTTL = d
	a.mu.Unlock()
}

// IdPEntityID is the entity ID from the IdP metadata.
func (a *SAMLAuthenticator) IdPEntityID() string { return a.sp.IdPEntityID() }

// Authenticate implements Authenticator.
func (a *SAMLAuthenticator) Authenticate(ctx context.Context, req AuthRequest) (*Identity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(req.Password, samlPhase1Prefix):
		return nil, a.begin(req)
	case strings.HasPrefix(req.Password, samlPhase2Prefix):
		return a.complete(req)
	}
	id, known, err := a.token(req)
	if known {
		return id, err
	}
	return nil, &AuthError{ClientMessage: msgSAMLNotFederated, Reason: "authentication-failed",
		Err: fmt.Errorf("%s: federated endpoint: the password is neither ACS::<port> nor a CRV1 SAML response (profile without auth-federate?)", req.Client)}
}

// begin answers phase 1 with the CRV1 challenge.
func (a *SAMLAuthenticator) begin(req AuthRequest) error {
	port, err := strconv.Atoi(strings.TrimPrefix(req.Password, samlPhase1Prefix))
	if err != nil || port < 1 || port > 65535 {
		return &AuthError{Reason: "authentication-failed",
			Err: fmt.Errorf("%s: federated phase 1: password %q is not ACS::<port>", req.Client, req.Password)}
	}
	if port != samlflow.DefaultPort {
		// The IdP only knows http://127.0.0.1:35001; another port cannot work.
		a.log.Warn("client listens for the SAML response on a non-standard port; the IdP posts to "+samlflow.ACSURL,
			"client", req.Client.String(), "port", port)
	}
	state, url, err := a.sp.Begin()
	if err != nil {
		return &AuthError{ClientMessage: "TEMP[backoff 30]:federated sign-in unavailable", Reason: "authentication-failed",
			Err: fmt.Errorf("%s: federated phase 1: %w", req.Client, err)}
	}
	now := a.now()
	a.mu.Lock()
	if len(a.states) >= samlMaxStates {
		for k, v := range a.states {
			if now.After(v.expires) {
				delete(a.states, k)
			}
		}
	}
	a.states[state] = samlState{peer: req.Client.Addr().Unmap(), expires: now.Add(samlStateTTL)}
	a.mu.Unlock()
	user := base64.StdEncoding.EncodeToString([]byte("N/A"))
	return &AuthError{
		ClientMessage: "CRV1:R:" + state + ":" + user + ":" + url,
		Waiting:       true,
		Err:           fmt.Errorf("%s: federated sign-in started (state %s): waiting for the SAML assertion", req.Client, state),
	}
}

// complete validates phase 2.
func (a *SAMLAuthenticator) complete(req AuthRequest) (*Identity, error) {
	state, resp, ok := ParseCRV1Response(req.Password)
	if !ok {
		return nil, &AuthError{ClientMessage: msgSAMLRejected, Reason: "authentication-failed", AssertionReceived: true,
			Err: fmt.Errorf("%s: federated phase 2: password is not CRV1::<state>::<SAMLResponse>", req.Client)}
	}
	if len(resp) > samlflow.MaxResponseSize {
		a.forget(state)
		return nil, &AuthError{ClientMessage: msgSAMLTooLarge, Reason: "authentication-failed", AssertionReceived: true,
			Err: fmt.Errorf("%s: federated phase 2 (state %s): %w", req.Client, state, &samlflow.SizeError{Size: len(resp)})}
	}
	now := a.now()
	a.mu.Lock()
	st, known := a.states[state]
	delete(a.states, state)
	a.mu.Unlock()
	if !known || now.After(st.expires) {
		// Consume the SP state too, whatever it was.
		_, _ = a.sp.Complete(state, "")
		return nil, &AuthError{ClientMessage: msgSAMLUnknownState, Reason: "authentication-failed", AssertionReceived: true,
			Err: fmt.Errorf("%s: federated phase 2: unknown or expired state %q (already used, replayed, or never issued)", req.Client, state)}
	}
	if peer := req.Client.Addr().Unmap(); peer != st.peer {
		_, _ = a.sp.Complete(state, "")
		return nil, &AuthError{ClientMessage: msgSAMLOtherAddress, Reason: "authentication-failed", AssertionReceived: true,
			Err: fmt.Errorf("%s: federated phase 2 (state %s): phase 1 came from %s", req.Client, state, st.peer)}
	}
	id, err := a.sp.Complete(state, resp)
	if err != nil {
		msg := msgSAMLRejected
		if errors.Is(err, samlflow.ErrTooLarge) {
			msg = msgSAMLTooLarge
		}
		return nil, &AuthError{ClientMessage: msg, Reason: "authentication-failed", AssertionReceived: true,
			Err: fmt.Errorf("%s: federated phase 2: %w", req.Client, err)}
	}
	out := Identity{Username: id.User, Groups: append([]string(nil), id.Groups...)}
	var tb [24]byte
	if _, err := rand.Read(tb[:]); err != nil {
		return nil, err
	}
	tok := base64.StdEncoding.EncodeToString(tb[:])
	a.mu.Lock()
	if len(a.tokens) >= samlMaxStates {
		for k, v := range a.tokens {
			if now.After(v.expires) {
				delete(a.tokens, k)
			}
		}
	}
	expires := now.Add(a.tokenTTL)
	if len(a.tokens) < samlMaxStates {
		a.tokens[sha256.Sum256([]byte(tok))] = samlToken{id: out, expires: expires}
	}
	a.mu.Unlock()
	out.AssertionReceived, out.AuthToken, out.Expires = true, tok, expires
	return &out, nil
}

// token signs a reconnecting client in with the auth-token pushed after
// its federated sign-in, so a network blip does not need the browser.
// known is false when the password is no token of ours; a known token
// older than the session timeout is refused ("sign in again").
func (a *SAMLAuthenticator) token(req AuthRequest) (id *Identity, known bool, err error) {
	if req.Password == "" {
		return nil, false, nil
	}
	k := sha256.Sum256([]byte(req.Password))
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tokens[k]
	if !ok {
		return nil, false, nil
	}
	if !now.Before(t.expires) {
		delete(a.tokens, k)
		return nil, true, &AuthError{ClientMessage: msgSAMLSessionExpired, Reason: "authentication-failed",
			Err: fmt.Errorf("%s: auth-token of %s expired at %s (session timeout): the user must sign in again",
				req.Client, t.id.Username, t.expires.UTC().Format(time.RFC3339))}
	}
	out := t.id
	out.Groups = append([]string(nil), t.id.Groups...)
	out.AuthToken, out.Expires = req.Password, t.expires
	return &out, true, nil
}

func (a *SAMLAuthenticator) forget(state string) {
	a.mu.Lock()
	_, ok := a.states[state]
	delete(a.states, state)
	a.mu.Unlock()
	if ok {
		_, _ = a.sp.Complete(state, "")
	}
}

// ParseCRV1Response splits a phase-2 password "CRV1::<state>::<response>".
// The state id is hex; the response is base64 (no colons), so the first
// "::" after the state ends it.
func ParseCRV1Response(password string) (state, response string, ok bool) {
	rest, found := strings.CutPrefix(password, samlPhase2Prefix)
	if !found {
		return "", "", false
	}
	state, response, found = strings.Cut(rest, "::")
	if !found || state == "" || response == "" || len(state) > 128 || strings.ContainsAny(state, ": \t\r\n") {
		return "", "", false
	}
	return state, response, true
}
