package faultnet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/faultnet"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestFaultsLossAndJitter: 10% loss and 50 ms jitter both ways between
// cvpn and OpenVPN 2.6; the handshake completes and a 20 MB upload arrives
// intact, over UDP and TCP. For TCP the proxy cannot drop bytes: a "lost"
// chunk is stalled for 50 ms (one jittered round trip, a fast
// retransmission) and the stream keeps its order.
func TestFaultsLossAndJitter(t *testing.T) {
	im := faultnet.Impairment{Loss: 0.10, Jitter: 50 * time.Millisecond, LossPenalty: 50 * time.Millisecond}
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			f := newFaultLab(t, openvpnpeer.ServerConfig{Proto: proto, Wrap: openvpnpeer.WrapTLSCrypt}, im, im)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			start := time.Now()
			cl := f.connect(t)
			waitEvents(ctx, t, cl, `"state":"connected"`, 1)
			t.Logf("FIGURE %s: connected in %s through 10%% loss + 50 ms jitter", proto, time.Since(start).Round(time.Millisecond))
			if err := nstest.Ping(ctx, f.lab.Client, f.srv.TunnelIP()); err != nil {
				t.Fatalf("ping through the tunnel: %v\n%s", err, cl.Output())
			}
			up, err := nstest.Transfer(ctx, f.lab.Client, f.lab.Server, f.srv.TunnelIP(), 20<<20)
			if err != nil || !up.OK() {
				t.Fatalf("20 MB upload under loss: %v %s\n%s", err, up, cl.Output())
			}
			t.Logf("FIGURE %s upload: %s", proto, up)
			st := f.proxy.Stats()
			t.Logf("proxy: up %+v", st.Up)
			t.Logf("proxy: down %+v", st.Down)
			if st.Up.Lost == 0 || st.Down.Lost == 0 {
				t.Errorf("the proxy lost nothing (%+v): the test did not impair the link", st)
			}
			f.stop(t, cl)
		})
	}
}

// TestFaultsDuplicateAndReorder: 20% of UDP packets duplicated and 20%
// held back by 5 ms (so later ones overtake them), both ways. Replayed
// copies are dropped by the replay window and reordering is absorbed;
// 20 MB arrive intact.
func TestFaultsDuplicateAndReorder(t *testing.T) {
	im := faultnet.Impairment{Duplicate: 0.2, Reorder: 0.2, ReorderGap: 5 * time.Millisecond, Delay: time.Millisecond}
	f := newFaultLab(t, openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSAuth}, im, im)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := f.connect(t)
	waitEvents(ctx, t, cl, `"state":"connected"`, 1)
	res, err := nstest.Transfer(ctx, f.lab.Client, f.lab.Server, f.srv.TunnelIP(), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB upload with duplication and reordering: %v %s\n%s", err, res, cl.Output())
	}
	st := f.proxy.Stats()
	t.Logf("FIGURE udp duplicate+reorder upload: %s; proxy up %+v", res, st.Up)
	if st.Up.Duplicated == 0 || st.Down.Reordered == 0 {
		t.Errorf("the proxy duplicated or reordered nothing: %+v", st)
	}
	if strings.Count(cl.Output(), `"state":"connected"`) != 1 {
		t.Errorf("the client reconnected:\n%s", cl.Output())
	}
	f.stop(t, cl)
}
