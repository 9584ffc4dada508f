package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/handler"
)

// metrics are the endpoint's counters, named after the CloudWatch metrics
// of AWS Client VPN.
type metrics struct {
	active         atomic.Int64
	authFailures   atomic.Uint64
	droppedPackets atomic.Uint64
	badPackets     atomic.Uint64
	floats         atomic.Uint64
	// Traffic of finished sessions; live sessions are added when rendering.
	ingressBytes, egressBytes     atomic.Uint64
	ingressPackets, egressPackets atomic.Uint64
	hTimeouts, hInvalid, hOther   atomic.Uint64
	hThrottled, hDenied, hService atomic.Uint64
}

func (m *metrics) addTraffic(ss *session) {
	m.ingressBytes.Add(ss.inBytes.Load())
	m.egressBytes.Add(ss.outBytes.Load())
	m.ingressPackets.Add(ss.inPkts.Load())
	m.egressPackets.Add(ss.outPkts.Load())
}

func (m *metrics) countHandler(reason string) {
	switch reason {
	case handler.ReasonTimedOut:
		m.hTimeouts.Add(1)
	case handler.ReasonInvalidResponse:
		m.hInvalid.Add(1)
	case handler.ReasonOtherExecution:
		m.hOther.Add(1)
	case handler.ReasonThrottled:
		m.hThrottled.Add(1)
	case handler.ReasonDenied:
		m.hDenied.Add(1)
	case handler.ReasonServiceError:
		m.hService.Add(1)
	}
}

// WriteMetrics writes the Prometheus text exposition of the endpoint's
// metrics to w.
func (s *Server) WriteMetrics(w io.Writer) error {
	m := &s.m
	var inB, outB, inP, outP uint64 = m.ingressBytes.Load(), m.egressBytes.Load(), m.ingressPackets.Load(), m.egressPackets.Load()
	s.mu.RLock()
	for _, ss := range s.sessions {
		if ss.established.Load() {
			inB += ss.inBytes.Load()
			outB += ss.outBytes.Load()
			inP += ss.inPkts.Load()
			outP += ss.outPkts.Load()
		}
	}
	s.mu.RUnlock()
	type metric struct {
		name, kind, help string
		value            float64
	}
	ms := []metric{
		{"ActiveConnectionsCount", "gauge", "Number of active connections.", float64(m.active.Load())},
		{"AuthenticationFailures", "counter", "Number of authentication failures.", float64(m.authFailures.Load())},
		{"IngressBytes", "counter", "Bytes received from clients.", float64(inB)},
		{"EgressBytes", "counter", "Bytes sent to clients.", float64(outB)},
		{"IngressPackets", "counter", "Packets received from clients.", float64(inP)},
		{"EgressPackets", "counter", "Packets sent to clients.", float64(outP)},
		{"ClientConnectHandlerTimeouts", "counter", "Client connect handler invocations that timed out.", float64(m.hTimeouts.Load())},
		{"ClientConnectHandlerInvalidResponses", "counter", "Invalid client connect handler responses.", float64(m.hInvalid.Load())},
		{"ClientConnectHandlerOtherExecutionErrors", "counter", "Client connect handler execution errors.", float64(m.hOther.Load())},
		{"ClientConnectHandlerThrottlingErrors", "counter", "Throttled client connect handler invocations.", float64(m.hThrottled.Load())},
		{"ClientConnectHandlerDeniedConnections", "counter", "Connections denied by the client connect handler.", float64(m.hDenied.Load())},
		{"ClientConnectHandlerFailedServiceErrors", "counter", "Client connect handler service errors.", float64(m.hService.Load())},
		{"ClientAddressChanges", "counter", "Sessions that moved to a new client address (float).", float64(m.floats.Load())},
		{"AuthorizationDroppedPackets", "counter", "Data packets dropped by the authorization rules or source checks.", float64(m.droppedPackets.Load())},
	}
	if days, ok := s.crlDaysToExpiry(); ok {
		ms = append(ms, metric{"CrlDaysToExpiry", "gauge", "Days until the certificate revocation list expires.", days})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	var b strings.Builder
	label := fmt.Sprintf(`{endpoint=%q}`, s.cfg.EndpointID)
	for _, x := range ms {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s%s %v\n", x.name, x.help, x.name, x.kind, x.name, label, x.value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// metricsDrain bounds how long shutdown waits for metrics requests in flight.
const metricsDrain = 2 * time.Second

// serveMetrics starts the metrics HTTP endpoint. The returned function
// stops it (within metricsDrain) and frees its address; Run calls it on
// shutdown before waiting for the server's goroutines.
func (s *Server) serveMetrics(addr string) (string, func() error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.WriteMetrics(w)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics server", "err", err)
		}
	}()
	return l.Addr().String(), func() error {
		// Requests in flight get a moment to finish; then every
		// connection is closed so that shutdown is bounded.
		ctx, cancel := context.WithTimeout(context.Background(), metricsDrain)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			return errors.Join(fmt.Errorf("metrics server: %w", err), hs.Close())
		}
		return nil
	}, nil
}
