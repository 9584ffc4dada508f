// Package nstest builds throw-away network labs out of Linux network
// namespaces for end-to-end tests, and gives tests the tools to prove that
// packets cross them. It is test support: import it only from _test.go files
// and from test-support packages (benchmarks, `make demo`).
//
// A lab is two or three namespaces named cvpn-<role>-<suffix> with a random
// suffix shared by the lab:
//
//	client (eth0 198.18.0.1/24 fd18::1/64)
//	   |  veth
//	server (eth0 198.18.0.2/24 fd18::2/64, eth1 198.19.0.1/24 fd19::1/64, forwarding on)
//	   |  veth (only with Options.LAN)
//	lan    (eth0 198.19.0.2/24 fd19::2/64, default routes via the server)
//
// The 198.18.0.0/15 benchmark range and fd00::/8 ULA prefixes cannot collide
// with anything the host routes. The client has no default route unless
// Options.ClientDefaultRoute asks for one, so the lan is reachable from the
// client only through a tunnel.
//
// Every namespace gets its own /etc/netns/NAME/resolv.conf before anything
// runs in it: `ip netns exec NAME` bind-mounts it over /etc/resolv.conf, so
// programs started with Run or Start that rewrite DNS touch that file, never
// the host's. Go code run with InNS does NOT see that bind mount (it only
// switches the network namespace of one thread); never change DNS from InNS.
//
// Everything a lab creates is removed by Close (registered with t.Cleanup by
// New), even after a failed test: processes still inside the namespaces are
// killed by PID, the namespaces deleted, the /etc/netns entries removed.
//
// Tests that need root call RequireRoot first; it skips with the reason, or
// fails when the environment variable CI is "true" so CI never skips silently.
//
// The package only works on Linux; on other systems it is empty.
package nstest
