package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/server/handler"
)

// admit authenticates the client, runs the connect handler and prepares
// the pushed configuration. Refusals send AUTH_FAILED and are logged.
func (ss *session) admit(ctx context.Context, m *km2.Message) error {
	s := ss.srv
	c := s.cfg
	if c.Authentication.Mutual && ss.cn == "" {
		return ss.refuse(&AuthError{Reason: "client-certificate-missing", Err: errors.New("no client certificate")})
	}
	ss.username = ss.cn
	if s.auth != nil {
		id, err := s.auth.Authenticate(ctx, AuthRequest{ConnectionID: ss.id, CommonName: ss.cn, Username: m.Username,
			Password: m.Password, PeerInfo: ss.pi, Framing: m.Framing, Client: ss.peer})
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				ae = &AuthError{Reason: "authentication-failed", Err: err}
			}
			if ae.AssertionReceived {
				s.writeReset(ss)
			}
			return ss.refuse(ae)
		}
		if id.AssertionReceived {
			s.writeReset(ss)
		}
		ss.username, ss.groups, ss.token, ss.expires = id.Username, id.Groups, id.AuthToken, id.Expires
	}
	d := s.handler.Call(ctx, handler.Request{
		ConnectionID: ss.id, EndpointID: c.EndpointID, CommonName: ss.cn, Username: ss.username,
		Platform: ss.pi["IV_PLAT"], PlatformVersion: ss.pi["IV_PLAT_VER"], PublicIP: ss.peer.Addr().Unmap().String(),
		ClientOpenVPNVersion: ss.pi["IV_VER"], Groups: ss.groups,
	})
	if s.handler.Enabled() {
		s.m.countHandler(d.Reason)
	}
	ss.posture = d.Posture
	if !d.Allow {
		return ss.refuse(&AuthError{ClientMessage: d.ClientMessage, Reason: d.Reason, Err: fmt.Errorf("client connect handler: %s", d.Detail)})
	}

	// Data channel parameters.
	proto := ss.pi.Proto()
	name, ok := km2.NegotiateCipher(c.Ciphers, ss.pi.Ciphers())
	if !ok {
		occ := km2.ParseOCC(m.Options)
		if oc := occ["cipher"]; oc != "" {
			for _, sc := range c.Ciphers {
				if strings.EqualFold(sc, oc) {
					name, ok = sc, true
				}
			}
		}
	}
	if !ok {
		return ss.refuse(&AuthError{Reason: "no-shared-cipher", Err: fmt.Errorf("client offers %q, the endpoint allows %v", ss.pi["IV_CIPHERS"], c.Ciphers)})
	}
	ss.cipher, _ = datachannel.ParseCipher(name)
	if !ss.cipher.IsAEAD() {
		ss.auth, _ = datachannel.ParseAuth(c.Digest)
	}
	ss.ekm = proto&km2.IVProtoTLSKeyExport != 0
	ss.ccExit = proto&km2.IVProtoCCExitNotify != 0
	ss.epoch = proto&km2.IVProtoDataEpoch != 0 && ss.cipher.IsAEAD()
	ss.dynTLS = proto&km2.IVProtoDynTLSCrypt != 0 && ss.ekm
	if proto&km2.IVProtoDataV2 != 0 {
		ss.dataV2 = true
		ss.peerID = s.nextPeerID()
	}
	ip, err := s.pool.Allocate()
	if err != nil {
		return ss.refuse(&AuthError{ClientMessage: "TEMP[backoff 30]:no free address", Reason: "client-cidr-exhausted", Err: err})
	}
	ss.ip = ip
	if s.auth != nil && ss.token == "" {
		var tb [24]byte
		_, _ = rand.Read(tb[:])
		ss.token = base64.StdEncoding.EncodeToString(tb[:])
	}
	push, err := ctrlmsg.BuildPushReplies(ss.pushOptions(), ctrlmsg.DefaultMaxPushReply)
	if err != nil {
		return fmt.Errorf("building the push reply: %w", err)
	}
	ss.push = push
	return nil
}

// reauth checks the credentials of a renegotiation: the pushed auth token
// (or the users directory again).
func (ss *session) reauth(m *km2.Message) error {
	if ss.srv.auth == nil {
		return nil
	}
	if ss.token != "" && subtle.ConstantTimeCompare([]byte(m.Password), []byte(ss.token)) == 1 {
		return nil
	}
	if ua, ok := ss.srv.auth.(UsersAuthenticator); ok {
		if _, err := ua.Dir.Authenticate(m.Username, m.Password, ss.srv.now()); err == nil && m.Username == ss.username {
			return nil
		}
	}
	return fmt.Errorf("%s: renegotiation credentials (auth-token) do not match the session", ss.peerName())
}

// authFailed is a refusal already logged and sent to the client.
type authFailed struct{ err error }

func (e *authFailed) Error() string { return e.err.Error() }

// refuse sends AUTH_FAILED, logs the failed attempt and returns the error.
func (ss *session) refuse(ae *AuthError) error {
	s := ss.srv
	msg := "AUTH_FAILED"
	if ae.ClientMessage != "" {
		msg += "," + sanitize(ae.ClientMessage)
	}
	ss.sendMessage(msg)
	status := connlog.StatusFailed
	if ae.Waiting {
		status = connlog.StatusWaitingForAssertion
	} else {
		s.m.authFailures.Add(1)
	}
	s.writeLog(ss, status, ae.Reason, time.Time{})
	ss.log.Info("connection refused", "reason", ae.Reason, "err", ae.Error())
	// Let the reliable layer deliver AUTH_FAILED before the session ends.
	t := time.NewTimer(time.Second)
	select {
	case <-t.C:
	case <-ss.ctx.Done():
	}
	t.Stop()
	return &authFailed{ae}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
