package nstest

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// The two-uplink lab of AddUplink: the client reaches the server's public
// address (on the server's loopback, on neither link) through uplink 1
// (ClientDev, ClientIP via ServerIP) or uplink 2 (Uplink2Dev,
// Uplink2ClientIP via Uplink2GW); the server namespace plays both routers.
var (
	UplinkServerIP  = netip.MustParseAddr("203.0.113.1")
	Uplink2ClientIP = netip.MustParseAddr("198.18.2.1")
	Uplink2GW       = netip.MustParseAddr("198.18.2.2")
)

// Uplink2Dev is the client's device of uplink 2.
const Uplink2Dev = "eth1"

const uplink2ServerDev = "eth2"

// AddUplink adds uplink 2 and the server's public address to lab, and
// the client's default route via uplink 1; it returns once the client
// reaches both gateways and the public address.
func AddUplink(t testing.TB, lab *Lab) {
	t.Helper()
	MustRun(t, lab.Server, "ip", "addr", "add", UplinkServerIP.String()+"/32", "dev", "lo")
	MustRun(t, lab.Client, "ip", "link", "add", Uplink2Dev, "type", "veth", "peer", "name", uplink2ServerDev, "netns", lab.Server)
	MustRun(t, lab.Client, "ip", "addr", "add", Uplink2ClientIP.String()+"/24", "dev", Uplink2Dev)
	MustRun(t, lab.Client, "ip", "link", "set", Uplink2Dev, "up")
	MustRun(t, lab.Server, "ip", "addr", "add", Uplink2GW.String()+"/24", "dev", uplink2ServerDev)
	MustRun(t, lab.Server, "ip", "link", "set", uplink2ServerDev, "up")
	MustRun(t, lab.Client, "ip", "route", "replace", "default", "via", ServerIP.String(), "dev", ClientDev)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, a := range []netip.Addr{ServerIP, Uplink2GW, UplinkServerIP} {
		if err := Ping(ctx, lab.Client, a); err != nil {
			t.Fatalf("lab: ping %s: %v", a, err)
		}
	}
}
