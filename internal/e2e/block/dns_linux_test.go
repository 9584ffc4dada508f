package block

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// dnsServer answers A questions for names under zone with addr, from a
// UDP socket in a lab namespace, and counts the questions it saw.
type dnsServer struct {
	mu    sync.Mutex
	asked map[string]int
	conn  net.PacketConn
}

func startDNS(t *testing.T, ns string, listen netip.AddrPort, zone string, addr netip.Addr) *dnsServer {
	t.Helper()
	s := &dnsServer{asked: map[string]int{}}
	if err := nstest.InNS(ns, func() (err error) {
		s.conn, err = net.ListenPacket("udp", listen.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := s.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(q.Name.String(), ".")
			s.mu.Lock()
			s.asked[name]++
			s.mu.Unlock()
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA && (name == zone || strings.HasSuffix(name, "."+zone)) {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: addr.As4()})
			}
			if msg, err := b.Finish(); err == nil {
				_, _ = s.conn.WriteTo(msg, from)
			}
		}
	}()
	t.Cleanup(func() { s.conn.Close(); <-done })
	return s
}

// count is how often name was asked.
func (s *dnsServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[name]
}
