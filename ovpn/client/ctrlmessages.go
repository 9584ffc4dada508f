package client

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// messageLoop forwards text control messages of one TLS session.
func (l *link) messageLoop(tc *tls.Conn, br *bufio.Reader) {
	defer l.wg.Done()
	for {
		msg, err := ctrlmsg.ReadMessage(br)
		if err != nil {
			l.mu.Lock()
			current := l.tlsFor[l.keyID] == tc
			l.mu.Unlock()
			if l.ctx.Err() == nil && current && !errors.Is(err, io.EOF) {
				l.log.Debug("control session ended", "err", err)
			}
			return
		}
		if msg == "" {
			continue
		}
		select {
		case l.msgs <- msg:
		case <-l.ctx.Done():
			return
		}
	}
}

// sendMessage writes a text control message on the current TLS session.
func (l *link) sendMessage(m ctrlmsg.Message) error {
	l.mu.Lock()
	tc := l.tlsFor[l.keyID]
	l.mu.Unlock()
	if tc == nil {
		return errors.New("no control session")
	}
	_, err := tc.Write(ctrlmsg.Encode(m))
	return err
}
