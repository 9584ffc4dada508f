package killswitch

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	"golang.zx2c4.com/wireguard/windows/tunnel/firewall"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// WFP is the Windows backend: the filters of WFPFilters in a dynamic WFP
// session (wireguard-windows's firewall package). Windows removes a
// dynamic session's filters when the process ends, so on Windows a block
// does not outlive a crash of the daemon; its record makes the next start
// install it again.
type WFP struct {
	mu sync.Mutex
	on bool
}

// Open returns the backend of the running OS.
func Open(*slog.Logger) (Firewall, error) { return &WFP{}, nil }

func (w *WFP) String() string { return "WFP filters of cvpn's dynamic session" }

// Apply installs the filter set; an installed set is replaced.
func (w *WFP) Apply(r Rules) error {
	if _, err := WFPFilters(r); err != nil {
		return err
	}
	var luid uint64
	if r.Tunnel != "" {
		ifc, err := net.InterfaceByName(r.Tunnel)
		if err != nil {
			return fmt.Errorf("killswitch: tunnel interface %s: %w", r.Tunnel, err)
		}
		l, err := winipcfg.LUIDFromIndex(uint32(ifc.Index))
		if err != nil {
			return fmt.Errorf("killswitch: tunnel interface %s: %w", r.Tunnel, err)
		}
		luid = uint64(l)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	firewall.DisableFirewall()
	w.on = false
	if err := firewall.EnableFirewall(luid, false, nil); err != nil {
		return fmt.Errorf("killswitch: WFP: %w", err)
	}
	w.on = true
	return nil
}

// Remove closes the dynamic session, which deletes its filters.
func (w *WFP) Remove() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	was := w.on
	firewall.DisableFirewall()
	w.on = false
	return was, nil
}

// Installed reports whether this process holds the filters.
func (w *WFP) Installed() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.on, nil
}
