package ctrlmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/routeopt"

	"github.com/cvpn/cvpn/internal/netmask"
)

// Topologies.
const (
	TopologyNet30  = "net30"
	TopologyP2P    = "p2p"
	TopologySubnet = "subnet"
)

// Route is a pushed "route NET MASK [GW] [METRIC]" or
// "route-ipv6 NET/BITS [GW] [METRIC]", in the grammar profiles use.
type Route = routeopt.Route

// IfConfig is "ifconfig LOCAL NETMASK|REMOTE": the second address is a
// netmask with topology subnet and the peer address with net30/p2p.
type IfConfig struct {
	Local  netip.Addr
	Second netip.Addr
}

// IfConfigIPv6 is "ifconfig-ipv6 ADDR/BITS [REMOTE]".
type IfConfigIPv6 struct {
	Local  netip.Prefix
	Remote netip.Addr
}

// RedirectGateway holds the redirect-gateway flags.
type RedirectGateway struct {
	Def1, Local, AutoLocal, BypassDHCP, BypassDNS, BlockLocal, IPv6 bool
	// NoIPv4 is "!ipv4": do not redirect IPv4.
	NoIPv4 bool
}

// ProtocolFlags are the pushed protocol-flags.
type ProtocolFlags struct {
	CCExit, TLSEKM, DynTLSCrypt bool
	// AEADEpoch ("aead-epoch", OpenVPN 2.7) selects epoch data keys.
	AEADEpoch bool
}

// Inactive is "inactive SECONDS [BYTES]".
type Inactive struct {
	Seconds int
	Bytes   int64
}

// PushOptions is a typed PUSH_REPLY. Pointer and zero values mean "not
// pushed"; numeric fields use -1 for "not pushed" where 0 is meaningful.
type PushOptions struct {
	IfConfig         *IfConfig
	IfConfigIPv6     *IfConfigIPv6
	Topology         string // "" = not pushed (OpenVPN's default is net30)
	Routes           []Route
	RoutesIPv6       []Route
	RouteGateway     netip.Addr
	RouteGatewayDHCP bool
	RedirectGateway  *RedirectGateway
	// DNS holds dhcp-option DNS and DNS6 servers in order.
	DNS                 []netip.Addr
	Domain              string
	DomainSearch        []string
	DomainRoute         []string
	AdapterDomainSuffix string
	// DHCPOther keeps other dhcp-option lines (WINS, NTP, ...) verbatim.
	DHCPOther []string
	// DNSOption is the pushed `dns` option (OpenVPN 2.6/2.7 grammar), nil
	// when none was pushed. It takes precedence over dhcp-option DNS.
	DNSOption          *dnsopt.Options
	Ping               int // seconds, -1 = not pushed
	PingRestart        int // seconds, -1 = not pushed
	PeerID             int // -1 = not pushed
	Cipher             string
	KeyDerivationEKM   bool
	ProtocolFlags      ProtocolFlags
	TunMTU             int // 0 = not pushed
	AuthToken          string
	AuthTokenUser      string // decoded from base64
	ExplicitExitNotify int    // -1 = not pushed
	Inactive           *Inactive
	BlockIPv6          bool
	// BlockOutsideDNS is block-outside-dns (Windows: DNS only through the
	// tunnel's interface); other systems ignore it as OpenVPN does.
	BlockOutsideDNS bool
	// RouteMetric is route-metric: the metric of pushed routes without
	// their own; 0 = not pushed (the OS default).
	RouteMetric int
	// Echo holds the words of each echo option joined by single spaces.
	Echo []string
	// Ignored lists options we do not act on (unknown or not relevant),
	// verbatim, for logging.
	Ignored []string
}

// NewPushOptions returns an empty PushOptions with the "not pushed" markers set.
func NewPushOptions() *PushOptions {
	return &PushOptions{Ping: -1, PingRestart: -1, PeerID: -1, ExplicitExitNotify: -1}
}

// OptionError names the option that failed validation. It never includes
// the value of auth-token options.
type OptionError struct {
	Option string // the option text (or its name for secret options)
	Err    string
}

func (e *OptionError) Error() string { return fmt.Sprintf("pushed option %q: %s", e.Option, e.Err) }

// ParsePushOptions interprets pushed options. Unknown options go to
// Ignored. Invalid values of known options are reported together (each
// error names its option); the returned PushOptions holds everything that
// was valid, so the caller can decide.
func ParsePushOptions(options []string) (*PushOptions, error) {
	p := NewPushOptions()
	var errs []error
	for _, o := range options {
		if err := p.apply(o); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.checkIfConfig(); err != nil {
		errs = append(errs, err)
	}
	if p.DNSOption != nil {
		if err := p.DNSOption.Validate(); err != nil {
			errs = append(errs, &OptionError{Option: "dns", Err: err.Error()})
		}
	}
	return p, errors.Join(errs...)
}

func bad(opt, format string, args ...any) error {
	return &OptionError{Option: opt, Err: fmt.Sprintf(format, args...)}
}

func parseV4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

func atoiRange(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

// apply interprets one pushed option through pushTable; options not in
// the table go to Ignored.
func (p *PushOptions) apply(opt string) error {
	w, err := Fields(opt)
	if err != nil {
		return bad(opt, "%v", err)
	}
	if len(w) == 0 {
		return nil
	}
	name, args := w[0], w[1:]
	o, ok := pushTable[name]
	if !ok {
		p.Ignored = append(p.Ignored, opt)
		return nil
	}
	if o.max >= 0 && (len(args) < o.min || len(args) > o.max) {
		if o.min == o.max {
			return bad(opt, "want %d argument(s), got %d", o.min, len(args))
		}
		return bad(opt, "want %d to %d arguments, got %d", o.min, o.max, len(args))
	}
	return o.apply(p, opt, args)
}

// checkIfConfig validates ifconfig against the topology once both are known.
func (p *PushOptions) checkIfConfig() error {
	if p.IfConfig == nil {
		return nil
	}
	opt := "ifconfig " + p.IfConfig.Local.String() + " " + p.IfConfig.Second.String()
	if p.Topology == TopologySubnet {
		if _, ok := netmask.Bits(p.IfConfig.Second); !ok || !p.IfConfig.Second.Is4() {
			return bad(opt, "with topology subnet the second argument must be a netmask")
		}
		if bits, _ := netmask.Bits(p.IfConfig.Second); bits == 0 || bits > 30 {
			return bad(opt, "netmask /%d leaves no room for a subnet", bits)
		}
		return nil
	}
	if p.IfConfig.Local == p.IfConfig.Second {
		return bad(opt, "local and remote addresses are equal")
	}
	return nil
}

// IfConfigPrefix returns the tunnel address as a prefix and, for net30/p2p,
// the peer address. With topology subnet the prefix uses the pushed
// netmask; otherwise it is a /32 and peer is the remote end.
func (p *PushOptions) IfConfigPrefix() (local netip.Prefix, peer netip.Addr, ok bool) {
	if p.IfConfig == nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	if p.Topology == TopologySubnet {
		bits, good := netmask.Bits(p.IfConfig.Second)
		if !good || !p.IfConfig.Second.Is4() {
			return netip.Prefix{}, netip.Addr{}, false
		}
		return netip.PrefixFrom(p.IfConfig.Local, bits), netip.Addr{}, true
	}
	return netip.PrefixFrom(p.IfConfig.Local, 32), p.IfConfig.Second, true
}

// UsesEKM reports whether data keys come from the TLS exporter.
func (p *PushOptions) UsesEKM() bool { return p.KeyDerivationEKM || p.ProtocolFlags.TLSEKM }
