package screenshots

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/guitest"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// Files are the PNGs written, in order.
var Files = []string{"01-disconnected.png", "02-connected.png", "03-banner.png", "04-error.png"}

// Write builds the main window in a, drives it through its main states
// with events from a fake backend and writes one PNG per state into dir.
// Call it on the fyne main goroutine. The profiles live in a temporary
// data root that is removed afterwards.
func Write(a fyne.App, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "cvpn-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	store, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		return err
	}
	if err := addProfiles(store); err != nil {
		return err
	}
	now := time.Now()
	u := gui.New(a, guitest.New(store, nil), gui.Options{Now: func() time.Time { return now }})
	defer u.Stop()
	w := u.Window()
	w.Resize(fyne.NewSize(900, 560))
	w.Show()
	capture := func(name string) error {
		img := w.Canvas().Capture()
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := png.Encode(f, img); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		return f.Close()
	}
	state := func(name string, ev clientapi.Event) {
		ev.Event = clientapi.EventState
		if ev.Time.IsZero() {
			ev.Time = now
		}
		u.Apply(gui.ConnEvent{Name: name, Event: ev})
	}

	u.Select("office")
	if err := capture(Files[0]); err != nil {
		return err
	}

	// office is connected with traffic; staging is still signing in.
	since := now.Add(-(1*time.Hour + 12*time.Minute + 9*time.Second))
	for _, s := range []clientapi.State{clientapi.StateResolving, clientapi.StateConnecting, clientapi.StateAuthenticating, clientapi.StateConfiguring} {
		state("office", clientapi.Event{State: s})
	}
	connected := clientapi.Event{Time: since, State: clientapi.StateConnected, Server: "vpn.example.com:443/udp",
		TunnelIPv4: "10.100.0.6", TunnelIPv6: "fd00:100::6", Interface: "tun0", Cipher: "AES-256-GCM"}
	state("office", connected)
	state("staging", clientapi.Event{State: clientapi.StateAuthenticating})
	u.ApplyStatus([]gui.ConnStatus{
		{Name: "office", State: clientapi.StateConnected, Server: connected.Server, TunnelIPv4: connected.TunnelIPv4,
			TunnelIPv6: connected.TunnelIPv6, Interface: "tun0", Cipher: "AES-256-GCM", ConnectedSince: since,
			BytesIn: 184_316_204, BytesOut: 12_703_918},
		{Name: "staging", State: clientapi.StateAuthenticating},
	})
	u.Select("office")
	if err := capture(Files[1]); err != nil {
		return err
	}

	u.Apply(gui.ConnEvent{Name: "office", Event: clientapi.Event{Time: now, Event: clientapi.EventBanner,
		Text: "This system is for authorized use by Example Corp employees only.\n\n" +
			"Activity on this network is logged and monitored. By continuing you accept the acceptable use policy."}})
	if err := capture(Files[2]); err != nil {
		return err
	}
	for o := w.Canvas().Overlays().Top(); o != nil; o = w.Canvas().Overlays().Top() {
		w.Canvas().Overlays().Remove(o)
	}

	u.Apply(gui.ConnEvent{Name: "staging", Event: clientapi.Event{Time: now, Event: clientapi.EventError,
		Message: "read udp 192.0.2.10:51820->203.0.113.7:443: i/o timeout"}})
	state("staging", clientapi.Event{State: clientapi.StateDisconnected})
	u.Select("staging")
	return capture(Files[3])
}

func addProfiles(store *profilestore.Store) error {
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
