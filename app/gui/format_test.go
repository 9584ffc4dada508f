package gui

import "testing"

func TestServerTextNamesTheHost(t *testing.T) {
	cases := []struct {
		remotes      []string
		remote, addr string
		want         string
	}{
		// Before connecting: the profile's remotes.
		{[]string{"vpn.lab.test:1194/udp"}, "", "", "vpn.lab.test:1194/udp"},
		{[]string{"a.test:443/udp", "b.test:1194/tcp"}, "", "", "a.test:443/udp, b.test:1194/tcp"},
		// Connected: the remote in use and the address it reached.
		{[]string{"vpn.lab.test:1194/udp"}, "vpn.lab.test:1194/udp", "198.18.0.2:1194", "vpn.lab.test:1194/udp (198.18.0.2)"},
		// From a status snapshot only (the app started later): by port.
		{[]string{"a.test:443/udp", "vpn.lab.test:1194/udp"}, "", "198.18.0.2:1194", "vpn.lab.test:1194/udp (198.18.0.2)"},
		{[]string{"a.test:1194/udp", "b.test:1194/udp"}, "", "198.18.0.2:1194", "198.18.0.2:1194"},
		{[]string{"vpn.lab.test:1194/udp"}, "", "198.18.0.2:1194", "vpn.lab.test:1194/udp (198.18.0.2)"},
		// A remote that is an address is not repeated.
		{[]string{"198.18.0.2:1194/udp"}, "198.18.0.2:1194/udp", "198.18.0.2:1194", "198.18.0.2:1194/udp"},
		{[]string{"[fd18::2]:1194/udp"}, "", "[fd18::2]:1194", "[fd18::2]:1194/udp"},
		// Not in the store (started from the CLI): the address.
		{nil, "", "198.18.0.2:1194", "198.18.0.2:1194"},
	}
	for _, c := range cases {
		if got := ServerText(c.remotes, c.remote, c.addr); got != c.want {
			t.Errorf("ServerText(%q, %q, %q) = %q, want %q", c.remotes, c.remote, c.addr, got, c.want)
		}
	}
}
