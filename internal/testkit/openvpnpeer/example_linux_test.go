package openvpnpeer_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// Example shows the shape of an end-to-end test: a lab, an OpenVPN 2.6
// server, a client connected with the rendered profile, and the proofs.
// (It is compiled, not run; see TestOpenVPNClientServerProof.)
func Example() {
	var t *testing.T // the test's *testing.T

	lab := nstest.New(t, nstest.Options{LAN: true}) // skips unless root
	before := nstest.MustSnapshot(t, lab.Client)

	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{
		NS: lab.Server, Listen: nstest.ServerIP, Proto: "udp",
		Wrap:       openvpnpeer.WrapTLSCrypt,
		PushRoutes: []netip.Prefix{nstest.LANPrefix},
	})
	profile, _ := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	// cvpn would be started here with the profile; the reference client:
	cl := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: lab.Client, Profile: profile})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, lab.Client, nstest.LANHostIP); err != nil {
		t.Fatal(err)
	}
	res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srv.TunnelIP(), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("transfer: %v %s", err, res)
	}
	_ = cl.Stop()
	_ = srv.Stop()
	nstest.AssertUnchanged(t, before)
}
