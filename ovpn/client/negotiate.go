package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/handshake"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// keyTransition is how long an old data key keeps decrypting after a
// renegotiation (OpenVPN's transition-window default).
const keyTransition = 60 * time.Second

// negotiateKey runs TLS and the key-method-2 exchange on one key's stream.
// With first, it also requests and waits for the pushed configuration.
// The caller derives the data key from the result and zeroes it.
func (l *link) negotiateKey(ctx context.Context, keyID uint8, s *control.Stream, first bool) (*handshake.Key, error) {
	hello := handshake.Hello{Framing: l.framing, Options: l.occ(), Username: l.login.user, Password: l.login.pass,
		PeerInfo: l.peerInfo()}
	if !first {
		// Renegotiations authenticate with the pushed session token, so a
		// one-time code or a password that changed is not needed again.
		l.mu.Lock()
		if l.push != nil && l.push.AuthToken != "" {
			hello.Password = l.push.AuthToken
			if l.push.AuthTokenUser != "" {
				hello.Username = l.push.AuthTokenUser
			}
		}
		l.mu.Unlock()
	}
	k, err := handshake.Negotiate(ctx, s, handshake.Config{Role: wire.RoleClient, TLS: l.tlsConf, IDs: l.ch,
		Peer: l.peer, Hello: hello})
	if err != nil {
		var re *handshake.RefusedError
		if errors.As(err, &re) {
			return nil, &authError{re.AuthFailed, l.server}
		}
		return nil, err
	}
	cs := k.TLS.ConnectionState()
	l.log.Debug("TLS established", "version", tls.VersionName(cs.Version), "suite", tls.CipherSuiteName(cs.CipherSuite), "key_id", keyID)

	l.mu.Lock()
	l.tlsFor[keyID] = k.TLS
	l.mu.Unlock()
	// From here on the TLS session carries text control messages.
	l.wg.Add(1)
	go l.messageLoop(k.TLS, k.Reader)

	if first {
		if err := l.pull(ctx); err != nil {
			k.Zero()
			return nil, err
		}
		if l.push.ProtocolFlags.DynTLSCrypt {
			w, err := tlswrap.NewDynamicTLSCrypt(&cs, l.staticWrapKey(), wire.RoleClient, l.cfg.Now)
			if err != nil {
				k.Zero()
				return nil, fmt.Errorf("%s: %w", l.peer, err)
			}
			l.ch.SetRenegWrapper(w)
		}
	}
	return k, nil
}

// dataConfig is the data channel configuration of one key.
func (l *link) dataConfig(keyID uint8) datachannel.Config {
	return datachannel.Config{
		Cipher: l.cipher, Auth: l.auth, Role: wire.RoleClient, KeyID: keyID,
		DataV2: l.dataV2, PeerID: l.peerID, Now: l.cfg.Now, Epoch: l.epoch,
	}
}

// onSoftReset runs a renegotiation the server started.
func (l *link) onSoftReset(keyID uint8, s *control.Stream) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.renegotiate(keyID, s)
	}()
}

// renegotiate runs TLS and key method 2 on a new key id, installs the new
// data key as primary and retires the old one after the transition window.
func (l *link) renegotiate(keyID uint8, s *control.Stream) {
	ctx, cancel := context.WithTimeout(l.ctx, control.DefaultHandWindow)
	defer cancel()
	l.log.Info("renegotiating data channel keys", "key_id", keyID)
	k, err := l.negotiateKey(ctx, keyID, s, false)
	if err != nil {
		if l.ctx.Err() == nil {
			l.failWith(fmt.Errorf("%s: key renegotiation failed: %w", l.peer, err))
		}
		return
	}
	dk, err := k.DataKey(l.ekm, l.dataConfig(keyID))
	k.Zero()
	if err != nil {
		l.failWith(err)
		return
	}
	l.mu.Lock()
	old := l.keyID
	l.keyID = keyID
	oldTLS := l.tlsFor[old]
	var stale []uint8
	for id := range l.tlsFor {
		if id != keyID && id != old {
			stale = append(stale, id)
			delete(l.tlsFor, id)
		}
	}
	l.mu.Unlock()
	// Only the new key and the one before it stay: a key older than that
	// belongs to a renegotiation that has been superseded.
	for _, id := range stale {
		l.keys.Remove(id)
		l.ch.RetireKey(id)
	}
	k.Install(&l.keys, dk)
	l.log.Info("data channel keys renegotiated", "key_id", keyID, "cipher", l.cipher.String())
	t := time.NewTimer(keyTransition)
	defer t.Stop()
	select {
	case <-t.C:
		// The old key id may have been retired and reused since (every
		// seventh renegotiation): retire it only if it is the same key.
		l.mu.Lock()
		still := oldTLS != nil && l.tlsFor[old] == oldTLS
		if still && old != l.keyID {
			delete(l.tlsFor, old)
		}
		cur := l.keyID
		l.mu.Unlock()
		if still && old != cur {
			l.keys.Remove(old)
			l.ch.RetireKey(old)
		}
	case <-l.ctx.Done():
	}
}

// renegotiateNow starts a client-initiated renegotiation.
func (l *link) renegotiateNow() {
	l.mu.Lock()
	next := wire.NextKeyID(l.keyID)
	_, inUse := l.tlsFor[next]
	delete(l.tlsFor, next)
	l.mu.Unlock()
	if inUse {
		l.keys.Remove(next)
		l.ch.RetireKey(next)
	}
	s, err := l.ch.NewKey(next)
	if err != nil {
		l.failWith(fmt.Errorf("%s: cannot start renegotiation: %w", l.peer, err))
		return
	}
	l.onSoftReset(next, s)
}
