package guitest

import (
	"fmt"
	"time"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// Scene is one state of the main window to photograph: Apply (run on the
// fyne main goroutine) drives the window into it; Name is the file name
// without ".png".
type Scene struct {
	Name  string
	Apply func()
}

// Scenes are the main states of the window, in order, for the
// screenshots (the headless renderer and the real window under Xvfb):
// disconnected, connected with traffic while another profile signs in, a
// banner, an error. u must hold the profiles of AddExampleProfiles; now
// is the clock u was made with.
func Scenes(u *gui.UI, now time.Time) []Scene {
	state := func(name string, ev clientapi.Event) {
		ev.Event = clientapi.EventState
		if ev.Time.IsZero() {
			ev.Time = now
		}
		u.Apply(gui.ConnEvent{Name: name, Event: ev})
	}
	since := now.Add(-(1*time.Hour + 12*time.Minute + 9*time.Second))
	connected := clientapi.Event{Time: since, State: clientapi.StateConnected, Server: "vpn.example.com:443/udp",
		TunnelIPv4: "10.100.0.6", TunnelIPv6: "fd00:100::6", Interface: "tun0", Cipher: "AES-256-GCM"}
	return []Scene{
		{"01-disconnected", func() { u.Select("office") }},
		{"02-connected", func() {
			// office is connected with traffic; staging is still signing in.
			for _, s := range []clientapi.State{clientapi.StateResolving, clientapi.StateConnecting, clientapi.StateAuthenticating, clientapi.StateConfiguring} {
				state("office", clientapi.Event{State: s})
			}
			state("office", connected)
			state("staging", clientapi.Event{State: clientapi.StateAuthenticating})
			u.ApplyStatus([]gui.ConnStatus{
				{Name: "office", State: clientapi.StateConnected, Server: connected.Server, TunnelIPv4: connected.TunnelIPv4,
					TunnelIPv6: connected.TunnelIPv6, Interface: "tun0", Cipher: "AES-256-GCM", ConnectedSince: since,
					BytesIn: 184_316_204, BytesOut: 12_703_918},
				{Name: "staging", State: clientapi.StateAuthenticating},
			})
			u.Select("office")
		}},
		{"03-banner", func() {
			u.Apply(gui.ConnEvent{Name: "office", Event: clientapi.Event{Time: now, Event: clientapi.EventBanner,
				Text: "This system is for authorized use by Example Corp employees only.\n\n" +
					"Activity on this network is logged and monitored. By continuing you accept the acceptable use policy."}})
		}},
		{"04-error", func() {
			ov := u.Window().Canvas().Overlays()
			for o := ov.Top(); o != nil; o = ov.Top() {
				ov.Remove(o)
			}
			u.Apply(gui.ConnEvent{Name: "staging", Event: clientapi.Event{Time: now, Event: clientapi.EventError,
				Message: "read udp 192.0.2.10:51820->203.0.113.7:443: i/o timeout"}})
			state("staging", clientapi.Event{State: clientapi.StateDisconnected})
			u.Select("staging")
		}},
	}
}

// AddExampleProfiles imports the three profiles the scenes show: office
// and lab-eu (mutual TLS) and staging (also a username, a password and a
// static MFA challenge), with a throwaway CA.
func AddExampleProfiles(store *profilestore.Store) error {
	ca, err := pki.NewCA("Example Corp VPN CA", pki.Options{})
	if err != nil {
		return err
	}
	cl, err := ca.IssueClient("alice")
	if err != nil {
		return err
	}
	mutual := func(host string, port int, extra string) []byte {
		return fmt.Appendf(nil, "client\ndev tun\nproto udp\nremote %s %d\nremote-cert-tls server\nnobind\n%s"+
			"<ca>\n%s</ca>\n<cert>\n%s</cert>\n<key>\n%s</key>\n", host, port, extra, ca.CertPEM, cl.CertPEM, cl.KeyPEM)
	}
	for _, p := range []struct {
		name string
		data []byte
	}{
		{"office", mutual("vpn.example.com", 443, "")},
		{"lab-eu", mutual("lab-eu.example.net", 1194, "")},
		{"staging", mutual("staging.example.com", 443, "auth-user-pass\nstatic-challenge \"Enter code\" 0\n")},
	} {
		if _, _, err := store.Import(p.data, p.name+".ovpn", "", p.name); err != nil {
			return fmt.Errorf("screenshot profile %s: %w", p.name, err)
		}
	}
	return nil
}
