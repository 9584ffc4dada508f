package server

import (
	"time"

	"github.com/cvpn/cvpn/ovpn/server/connlog"
)

// writeLog writes one connection-attempt entry.
func (s *Server) writeLog(ss *session, status, reason string, end time.Time) {
	if s.clog == nil {
		return
	}
	r := connlog.Record{Type: connlog.TypeAttempt, AttemptStatus: status, ResetStatus: connlog.NA,
		FailureReason: reason, ConnectionID: ss.id, EndpointID: s.cfg.EndpointID, Transport: ss.transport(),
		Start: ss.start, LastUpdate: s.now(), End: end, CommonName: ss.cn, DeviceType: ss.pi["IV_PLAT"],
		Device: ss.remote(), IngressBytes: ss.inBytes.Load(), EgressBytes: ss.outBytes.Load(),
		IngressPackets: ss.inPkts.Load(), EgressPackets: ss.outPkts.Load(), Posture: ss.posture, Username: ss.username}
	if status == connlog.StatusSuccessful {
		r.ClientIP = ss.ip
	}
	if err := s.clog.Write(r); err != nil {
		s.log.Warn("connection log write failed", "err", err)
	}
}

// writeReset writes the connection-reset entry of a federated phase 2:
// the SAML assertion arrived on this connection.
func (s *Server) writeReset(ss *session) {
	if s.clog == nil {
		return
	}
	r := connlog.Record{Type: connlog.TypeReset, AttemptStatus: connlog.NA, ResetStatus: connlog.ResetAssertionReceived,
		ConnectionID: ss.id, EndpointID: s.cfg.EndpointID, Transport: ss.transport(), Start: ss.start, LastUpdate: s.now(),
		CommonName: ss.cn, DeviceType: ss.pi["IV_PLAT"], Device: ss.remote()}
	if err := s.clog.Write(r); err != nil {
		s.log.Warn("connection log write failed", "err", err)
	}
}
