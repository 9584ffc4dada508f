package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"time"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// messageLoop forwards text control messages of one TLS session.
func (ss *session) messageLoop(tc *tls.Conn, br *bufio.Reader) {
	defer ss.wg.Done()
	for {
		msg, err := ctrlmsg.ReadMessage(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && ss.ctx.Err() == nil {
				ss.log.Debug("control session ended", "err", err)
			}
			return
		}
		if msg == "" {
			continue
		}
		select {
		case ss.msgs <- msg:
		case <-ss.ctx.Done():
			return
		}
	}
}

// sendMessage writes a control message on the current TLS session.
func (ss *session) sendMessage(msg string) {
	ss.mu.Lock()
	tc := ss.tlsFor[ss.keyID]
	ss.mu.Unlock()
	if tc != nil {
		ss.sendMessageOn(tc, msg)
	}
}

func (ss *session) sendMessageOn(tc *tls.Conn, msg string) {
	tc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write(append([]byte(msg), 0)); err != nil {
		ss.log.Debug("sending control message failed", "err", err)
	}
}
