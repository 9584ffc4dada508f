package server

import (
	"context"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/handshake"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// keyTransition is how long an old data key keeps decrypting after a
// renegotiation.
const keyTransition = 60 * time.Second

// negotiate runs TLS and key method 2 on one key. The first key also
// authenticates, authorizes and configures the client.
func (ss *session) negotiate(ctx context.Context, keyID uint8, st *control.Stream, first bool) error {
	s := ss.srv
	// Control messages are short; ctrlmsg.ReadMessage joins longer ones.
	k, err := handshake.Negotiate(ctx, st, handshake.Config{Role: wire.RoleServer, TLS: s.tlsConf, IDs: ss.ch,
		Peer: ss.peerName(), ReadBuffer: 256, Answer: func(k *handshake.Key) (string, error) {
			if first {
				ss.cn = k.CommonName
				ss.framing = k.Peer.Framing
				ss.pi = km2.ParsePeerInfo(k.Peer.PeerInfo)
			} else if k.CommonName != ss.cn {
				return "", fmt.Errorf("%s: renegotiation presented certificate %q, the session began with %q", ss.peerName(), k.CommonName, ss.cn)
			}
			return ss.occ(k.Peer.Options), nil
		}})
	if err != nil {
		return err
	}
	defer k.Zero()
	ss.mu.Lock()
	ss.tlsFor[keyID] = k.TLS
	if first {
		ss.keyID = keyID
	}
	ss.mu.Unlock()
	ss.wg.Add(1)
	go ss.messageLoop(k.TLS, k.Reader)

	if first {
		if err := ss.admit(ctx, k.Peer); err != nil {
			return err
		}
	} else if err := ss.reauth(k.Peer); err != nil {
		ss.sendMessageOn(k.TLS, "AUTH_FAILED")
		return err
	}

	dk, err := k.DataKey(ss.ekm, datachannel.Config{Cipher: ss.cipher, Auth: ss.auth, KeyID: keyID, DataV2: ss.dataV2,
		PeerID: ss.peerID, Now: s.now, Epoch: ss.epoch})
	if err != nil {
		return err
	}
	k.Install(&ss.keys, dk)
	if first && ss.dynTLS {
		cs := k.TLS.ConnectionState()
		w, err := tlswrap.NewDynamicTLSCrypt(&cs, s.staticWrapKey(ss.ch.Wrapper()), wire.RoleServer, s.now)
		if err != nil {
			return fmt.Errorf("%s: %w", ss.peerName(), err)
		}
		ss.ch.SetRenegWrapper(w)
	}
	if first {
		if err := ss.webSignIn(ctx); err != nil {
			return err
		}
		return ss.establish(ctx)
	}
	return nil
}

// onSoftReset runs a renegotiation the client started.
func (ss *session) onSoftReset(keyID uint8, st *control.Stream) {
	if !ss.established.Load() {
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.renegotiate(keyID, st)
	}()
}

// renegotiateNow starts a server-initiated renegotiation.
func (ss *session) renegotiateNow() {
	ss.mu.Lock()
	next := wire.NextKeyID(ss.keyID)
	ss.mu.Unlock()
	st, err := ss.ch.NewKey(next)
	if err != nil {
		ss.log.Warn("cannot start renegotiation", "err", err)
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.renegotiate(next, st)
	}()
}

func (ss *session) renegotiate(keyID uint8, st *control.Stream) {
	ctx, cancel := context.WithTimeout(ss.ctx, control.DefaultHandWindow)
	defer cancel()
	ss.log.Debug("renegotiating", "key_id", keyID)
	if err := ss.negotiate(ctx, keyID, st, false); err != nil {
		if ss.ctx.Err() == nil {
			ss.log.Warn("renegotiation failed; closing the session", "key_id", keyID, "err", err)
			ss.setReason("renegotiation failed")
			ss.cancel()
		}
		return
	}
	ss.mu.Lock()
	old := ss.keyID
	ss.keyID = keyID
	oldTLS := ss.tlsFor[old]
	var stale []uint8
	for id := range ss.tlsFor {
		if id != keyID && id != old {
			stale = append(stale, id)
			delete(ss.tlsFor, id)
		}
	}
	ss.mu.Unlock()
	// Only the new key and the one before it stay: an older one belongs to
	// a renegotiation that has been superseded, and its key id comes round
	// again after seven renegotiations (with reneg_sec under 9 s, within
	// the transition window: NewKey refused the id as still in use).
	for _, id := range stale {
		ss.keys.Remove(id)
		ss.ch.RetireKey(id)
	}
	ss.log.Info("data channel keys renegotiated", "key_id", keyID)
	t := time.NewTimer(keyTransition)
	defer t.Stop()
	select {
	case <-t.C:
		// The old key id may have been retired and reused since: retire
		// it only if it is still the same key and not the current one.
		ss.mu.Lock()
		same := ss.tlsFor[old] == oldTLS && old != ss.keyID
		if same {
			delete(ss.tlsFor, old)
		}
		ss.mu.Unlock()
		if same {
			ss.keys.Remove(old)
			ss.ch.RetireKey(old)
		}
	case <-ss.ctx.Done():
	}
}
