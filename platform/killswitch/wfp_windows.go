package killswitch

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/tailscale/wf"
	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// WFP is the Windows backend: the filters of WFPFilters in a sublayer of
// cvpn's own dynamic WFP session (github.com/tailscale/wf). Windows
// removes a dynamic session's objects when the process ends, so on
// Windows a block does not outlive a crash of the daemon; its record
// makes the next start install it again.
type WFP struct {
	log *slog.Logger
	mu  sync.Mutex
	set wfpSet
}

// Open returns the backend of the running OS.
func Open(log *slog.Logger) (Firewall, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WFP{log: log, set: wfpSet{name: "cvpn kill switch"}}, nil
}

func (w *WFP) String() string { return "WFP filters of cvpn's dynamic session" }

// Apply installs the filter set; an installed set is replaced without a
// gap (see wfpSet.replace).
func (w *WFP) Apply(r Rules) error {
	fs, err := WFPFilters(r)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	stale, err := w.set.replace(fs)
	if err != nil {
		return fmt.Errorf("killswitch: WFP: %w", err)
	}
	if stale != nil {
		w.log.Warn("killswitch: WFP: the previous filters stay until the block is lifted", "err", stale)
	}
	return nil
}

// Remove closes the dynamic session, which deletes its filters.
func (w *WFP) Remove() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.set.close()
}

// Installed reports whether this process holds the filters.
func (w *WFP) Installed() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.set.sublayer != nil, nil
}

// Rules lists the filters of cvpn's session (for tests and diagnostics).
func (w *WFP) Rules() ([]*wf.Rule, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.set.rules()
}

// DNSBlock is block-outside-dns on Windows: the filters of WFPDNSFilters
// in a dynamic WFP session and sublayer of their own. The zero value
// holds nothing; Close removes the filters (so does the end of the
// process).
type DNSBlock struct {
	// Log receives what goes wrong without failing Set; nil discards it.
	Log *slog.Logger

	mu  sync.Mutex
	set wfpSet
}

// Set blocks DNS outside tunnel, replacing an earlier block.
func (d *DNSBlock) Set(tunnel string) error {
	fs, err := WFPDNSFilters(tunnel)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set.name = "cvpn block-outside-dns"
	stale, err := d.set.replace(fs)
	if err != nil {
		return fmt.Errorf("block-outside-dns: WFP: %w", err)
	}
	if stale != nil && d.Log != nil {
		d.Log.Warn("block-outside-dns: WFP: the previous filters stay until the block is removed", "err", stale)
	}
	return nil
}

// Close removes the block; it reports whether one was installed.
func (d *DNSBlock) Close() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set.close()
}

// wfpSet is one filter set in a dynamic session: a provider, and the
// sublayer of the current set with its filters.
type wfpSet struct {
	name     string
	s        *wf.Session
	provider wf.ProviderID
	sublayer *wf.SublayerID
	filters  []wf.RuleID
}

// sublayerWeight places cvpn's sublayers early; as WFP arbitrates, a
// block in any sublayer wins over a permit in another, so the weight
// orders evaluation only.
const sublayerWeight = 0xF000

func newGUID() (windows.GUID, error) { return windows.GenerateGUID() }

// open opens the dynamic session and adds the provider.
func (t *wfpSet) open() error {
	if t.s != nil {
		return nil
	}
	s, err := wf.New(&wf.Options{Name: t.name, Description: t.name + " (dynamic: removed when cvpn ends)", Dynamic: true})
	if err != nil {
		return fmt.Errorf("opening a WFP session: %w", err)
	}
	g, err := newGUID()
	if err != nil {
		s.Close()
		return err
	}
	p := wf.ProviderID(g)
	if err := s.AddProvider(&wf.Provider{ID: p, Name: t.name, Description: t.name}); err != nil {
		s.Close()
		return fmt.Errorf("adding the WFP provider: %w", err)
	}
	t.s, t.provider = s, p
	return nil
}

// replace installs fs in a new sublayer, then deletes the previous
// sublayer and its filters: while both exist a packet passes only if
// both sets permit it, so no moment is without a block. err is a failure
// to install fs (the previous set stays); stale a failure to delete the
// previous set once fs is in place (its filters go with the session).
func (t *wfpSet) replace(fs []WFPFilter) (stale, err error) {
	if err := t.open(); err != nil {
		return nil, err
	}
	g, err := newGUID()
	if err != nil {
		return nil, err
	}
	sl := wf.SublayerID(g)
	if err := t.s.AddSublayer(&wf.Sublayer{ID: sl, Name: t.name, Description: t.name, Provider: t.provider, Weight: sublayerWeight}); err != nil {
		return nil, fmt.Errorf("adding a WFP sublayer: %w", err)
	}
	var added []wf.RuleID
	undo := func() {
		for _, id := range added {
			_ = t.s.DeleteRule(id)
		}
		_ = t.s.DeleteSublayer(sl)
	}
	app, err := selfAppID()
	if err != nil {
		undo()
		return nil, err
	}
	ifs := map[string]*net.Interface{}
	for _, f := range fs {
		rule, err := t.wfRule(f, sl, app, ifs)
		if err != nil {
			undo()
			return nil, fmt.Errorf("filter %s: %w", f, err)
		}
		if err := t.s.AddRule(rule); err != nil {
			undo()
			return nil, fmt.Errorf("adding filter %s: %w", f, err)
		}
		added = append(added, rule.ID)
	}
	stale = t.dropCurrent()
	t.sublayer, t.filters = &sl, added
	return stale, nil
}

// dropCurrent deletes the current sublayer and its filters.
func (t *wfpSet) dropCurrent() error {
	if t.sublayer == nil {
		return nil
	}
	var errs []error
	for _, id := range t.filters {
		if err := t.s.DeleteRule(id); err != nil {
			errs = append(errs, fmt.Errorf("deleting WFP filter %s: %w", id, err))
		}
	}
	if err := t.s.DeleteSublayer(*t.sublayer); err != nil {
		errs = append(errs, fmt.Errorf("deleting WFP sublayer %s: %w", *t.sublayer, err))
	}
	t.sublayer, t.filters = nil, nil
	return errors.Join(errs...)
}

// close closes the session (Windows deletes its dynamic objects).
func (t *wfpSet) close() (bool, error) {
	if t.s == nil {
		return false, nil
	}
	was := t.sublayer != nil
	err := t.s.Close()
	t.s, t.sublayer, t.filters = nil, nil, nil
	if err != nil {
		return was, fmt.Errorf("closing the WFP session: %w", err)
	}
	return was, nil
}

// rules lists the filters of the current sublayer.
func (t *wfpSet) rules() ([]*wf.Rule, error) {
	if t.s == nil || t.sublayer == nil {
		return nil, nil
	}
	all, err := t.s.Rules()
	if err != nil {
		return nil, err
	}
	var out []*wf.Rule
	for _, r := range all {
		if r.Sublayer == *t.sublayer {
			out = append(out, r)
		}
	}
	return out, nil
}

// selfAppID is the WFP application ID of this executable.
func selfAppID() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cvpn's executable: %w", err)
	}
	id, err := wf.AppID(exe)
	if err != nil {
		return "", fmt.Errorf("WFP application ID of %s: %w", exe, err)
	}
	return id, nil
}

var wfLayers = map[WFPLayer]wf.LayerID{
	WFPConnectV4:    wf.LayerALEAuthConnectV4,
	WFPConnectV6:    wf.LayerALEAuthConnectV6,
	WFPRecvAcceptV4: wf.LayerALEAuthRecvAcceptV4,
	WFPRecvAcceptV6: wf.LayerALEAuthRecvAcceptV6,
	WFPForwardV4:    wf.LayerIPForwardV4,
	WFPForwardV6:    wf.LayerIPForwardV6,
}

// wfRule turns f into a wf rule of sublayer sl.
func (t *wfpSet) wfRule(f WFPFilter, sl wf.SublayerID, app string, ifs map[string]*net.Interface) (*wf.Rule, error) {
	layer, ok := wfLayers[f.Layer]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q", f.Layer)
	}
	g, err := newGUID()
	if err != nil {
		return nil, err
	}
	iface := func(name string) (*net.Interface, error) {
		if i := ifs[name]; i != nil {
			return i, nil
		}
		i, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", name, err)
		}
		ifs[name] = i
		return i, nil
	}
	eq := func(not bool) wf.MatchType {
		if not {
			return wf.MatchTypeNotEqual
		}
		return wf.MatchTypeEqual
	}
	var ms []*wf.Match
	for _, c := range f.Conditions {
		var m *wf.Match
		switch c.Field {
		case WFPRemoteAddress:
			m = &wf.Match{Field: wf.FieldIPRemoteAddress, Op: eq(c.Not), Value: c.Prefix}
		case WFPSourceAddress:
			m = &wf.Match{Field: wf.FieldIPSourceAddress, Op: eq(c.Not), Value: c.Prefix}
		case WFPDestinationAddress:
			m = &wf.Match{Field: wf.FieldIPDestinationAddress, Op: eq(c.Not), Value: c.Prefix}
		case WFPRemotePort:
			m = &wf.Match{Field: wf.FieldIPRemotePort, Op: eq(c.Not), Value: c.Value}
		case WFPLocalPort, WFPICMPType:
			// FWPM_CONDITION_ICMP_TYPE is the local port field.
			m = &wf.Match{Field: wf.FieldIPLocalPort, Op: eq(c.Not), Value: c.Value}
		case WFPProtocol:
			m = &wf.Match{Field: wf.FieldIPProtocol, Op: eq(c.Not), Value: wf.IPProto(c.Value)}
		case WFPLoopback:
			op := wf.MatchTypeFlagsAllSet
			if c.Not {
				op = wf.MatchTypeFlagsNoneSet
			}
			m = &wf.Match{Field: wf.FieldFlags, Op: op, Value: wf.ConditionFlagIsLoopback}
		case WFPAppSelf:
			m = &wf.Match{Field: wf.FieldALEAppID, Op: eq(c.Not), Value: app}
		case WFPLocalInterface:
			i, err := iface(c.Iface)
			if err != nil {
				return nil, err
			}
			luid, err := winipcfg.LUIDFromIndex(uint32(i.Index))
			if err != nil {
				return nil, fmt.Errorf("interface %s: %w", c.Iface, err)
			}
			m = &wf.Match{Field: wf.FieldIPLocalInterface, Op: eq(c.Not), Value: uint64(luid)}
		case WFPArrivalInterface, WFPForwardInterface:
			i, err := iface(c.Iface)
			if err != nil {
				return nil, err
			}
			field := wf.FieldSourceInterfaceIndex
			if c.Field == WFPForwardInterface {
				field = wf.FieldDestinationInterfaceIndex
			}
			m = &wf.Match{Field: field, Op: eq(c.Not), Value: uint32(i.Index)}
		default:
			return nil, fmt.Errorf("unknown field %q", c.Field)
		}
		ms = append(ms, m)
	}
	action := wf.ActionBlock
	if f.Permit {
		action = wf.ActionPermit
	}
	return &wf.Rule{
		ID:         wf.RuleID(g),
		Name:       t.name + ": " + f.Name,
		Layer:      layer,
		Sublayer:   sl,
		Provider:   t.provider,
		Weight:     f.Weight,
		Conditions: ms,
		Action:     action,
	}, nil
}
