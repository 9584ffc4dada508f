package server

import (
	"fmt"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/km2"
)

// PushUpdate sends OpenVPN 2.7's PUSH_UPDATE with options (each one option
// as in a push, "-name" to remove, "?" for optional) to the active
// connection id. The client must have advertised IV_PROTO bit 12; options
// that cannot change on a live session are refused before anything is sent.
func (s *Server) PushUpdate(id string, options []string) error {
	s.mu.RLock()
	ss := s.sessions[id]
	s.mu.RUnlock()
	if ss == nil {
		return fmt.Errorf("no connection %q", id)
	}
	if !ss.established.Load() {
		return fmt.Errorf("connection %q is not active yet", id)
	}
	msgs, err := ctrlmsg.BuildPushUpdates(options, ctrlmsg.DefaultMaxPushReply)
	if err != nil {
		return err
	}
	if ss.pi.Proto()&km2.IVProtoPushUpdate == 0 {
		return fmt.Errorf("connection %q: the client does not support PUSH_UPDATE (IV_PROTO bit 12; OpenVPN 2.7 or later)", id)
	}
	for _, m := range msgs {
		ss.sendMessage(m)
	}
	ss.log.Info("sent PUSH_UPDATE", "messages", len(msgs), "options", len(options))
	return nil
}
