package dnsopt

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Limits from OpenVPN 2.7's manual.
const (
	// MaxAddresses is the most addresses one server may have.
	MaxAddresses = 8
	// MinID and MaxID bound a server id in a profile; pushed ids are
	// 0..MaxID.
	MinID, MaxID = -128, 127
	// maxDomains bounds the domains one option or one Options may hold, so
	// that a hostile server cannot make the client configure thousands.
	maxDomains = 64
)

// DNSSEC values.
const (
	DNSSECYes      = "yes"
	DNSSECOptional = "optional"
	DNSSECNo       = "no"
)

// Transports.
const (
	TransportPlain = "plain"
	TransportDoH   = "DoH"
	TransportDoT   = "DoT"
)

// Server is one `dns server N ...` group.
type Server struct {
	ID int
	// Addresses in order; a port of 0 means the default (53, or the
	// transport's).
	Addresses      []netip.AddrPort
	ResolveDomains []string
	DNSSEC         string // "" when not set, else DNSSECYes/Optional/No
	Transport      string // "" when not set, else TransportPlain/DoH/DoT
	SNI            string
}

// Options is the `dns` configuration: search domains and servers ordered
// by id (lowest first).
type Options struct {
	SearchDomains []string
	Servers       []Server
}

// Empty reports whether no dns option was given.
func (o *Options) Empty() bool { return o == nil || len(o.SearchDomains) == 0 && len(o.Servers) == 0 }

// Apply adds one `dns` option, given as its arguments after the word
// "dns", to o. Pushed options may use server ids 0..127 only. The error
// names the argument at fault; the caller adds where the option came from.
func (o *Options) Apply(args []string, pushed bool) error {
	if len(args) == 0 {
		return errors.New("want `search-domains DOMAIN...` or `server N KEYWORD VALUE...`")
	}
	switch args[0] {
	case "search-domains":
		if len(args) < 2 {
			return errors.New("search-domains needs at least one domain")
		}
		for _, d := range args[1:] {
			if !ValidDomain(d) {
				return fmt.Errorf("search-domains: %q is not a domain name", d)
			}
		}
		if len(o.SearchDomains)+len(args)-1 > maxDomains {
			return fmt.Errorf("more than %d search domains", maxDomains)
		}
		o.SearchDomains = append(o.SearchDomains, args[1:]...)
		return nil
	case "server":
	default:
		return fmt.Errorf("unknown keyword %q (want search-domains or server)", args[0])
	}
	if len(args) < 4 {
		return errors.New("want `server N KEYWORD VALUE...`")
	}
	lo := MinID
	if pushed {
		lo = 0
	}
	id, err := strconv.Atoi(args[1])
	if err != nil || id < lo || id > MaxID {
		return fmt.Errorf("server id %q: want a number from %d to %d", args[1], lo, MaxID)
	}
	s := o.server(id)
	key, vals := args[2], args[3:]
	one := func() (string, error) {
		if len(vals) != 1 {
			return "", fmt.Errorf("server %d %s: want one value, got %d", id, key, len(vals))
		}
		return vals[0], nil
	}
	switch key {
	case "address":
		if len(s.Addresses)+len(vals) > MaxAddresses {
			return fmt.Errorf("server %d address: more than %d addresses", id, MaxAddresses)
		}
		for _, v := range vals {
			ap, err := ParseAddress(v)
			if err != nil {
				return fmt.Errorf("server %d address: %w", id, err)
			}
			s.Addresses = append(s.Addresses, ap)
		}
	case "resolve-domains":
		for _, d := range vals {
			if !ValidDomain(d) {
				return fmt.Errorf("server %d resolve-domains: %q is not a domain name", id, d)
			}
		}
		if len(s.ResolveDomains)+len(vals) > maxDomains {
			return fmt.Errorf("server %d resolve-domains: more than %d domains", id, maxDomains)
		}
		s.ResolveDomains = append(s.ResolveDomains, vals...)
	case "dnssec":
		v, err := one()
		if err != nil {
			return err
		}
		if v != DNSSECYes && v != DNSSECOptional && v != DNSSECNo {
			return fmt.Errorf("server %d dnssec %q: want yes, optional or no", id, v)
		}
		s.DNSSEC = v
	case "transport":
		v, err := one()
		if err != nil {
			return err
		}
		if v != TransportPlain && v != TransportDoH && v != TransportDoT {
			return fmt.Errorf("server %d transport %q: want plain, DoH or DoT", id, v)
		}
		s.Transport = v
	case "sni":
		v, err := one()
		if err != nil {
			return err
		}
		if !ValidDomain(v) {
			return fmt.Errorf("server %d sni: %q is not a server name", id, v)
		}
		s.SNI = v
	case "exclude-domains":
		return fmt.Errorf("server %d exclude-domains: removed in OpenVPN 2.7; use resolve-domains", id)
	default:
		return fmt.Errorf("server %d: unknown keyword %q (want address, resolve-domains, dnssec, transport or sni)", id, key)
	}
	return nil
}

// server returns the server with id, adding it in order when missing.
func (o *Options) server(id int) *Server {
	i, found := slices.BinarySearchFunc(o.Servers, id, func(s Server, id int) int { return s.ID - id })
	if !found {
		o.Servers = slices.Insert(o.Servers, i, Server{ID: id})
	}
	return &o.Servers[i]
}

// Validate checks what only the whole configuration shows: every server
// has an address.
func (o *Options) Validate() error {
	for _, s := range o.Servers {
		if len(s.Addresses) == 0 {
			return fmt.Errorf("dns server %d has no address", s.ID)
		}
	}
	return nil
}

// Active returns the server whose settings apply: the one with the lowest
// id (OpenVPN 2.7 applies only that group).
func (o *Options) Active() (Server, bool) {
	if o == nil || len(o.Servers) == 0 {
		return Server{}, false
	}
	return o.Servers[0], true
}

// Merge returns base amended by pushed as OpenVPN does: a pushed server
// replaces base's server with the same id, pushed search domains are
// appended to base's.
func Merge(base, pushed *Options) *Options {
	out := &Options{}
	if base != nil {
		out.SearchDomains = append(out.SearchDomains, base.SearchDomains...)
		out.Servers = append(out.Servers, base.Servers...)
	}
	if pushed == nil {
		return out
	}
	out.SearchDomains = append(out.SearchDomains, pushed.SearchDomains...)
	for _, s := range pushed.Servers {
		*out.server(s.ID) = s
	}
	return out
}

// ParseAddress parses "addr", "addr:port" or "[v6addr]:port".
func ParseAddress(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("%q: a zone is not allowed", s)
		}
		return netip.AddrPortFrom(a.Unmap(), 0), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address or address:port (IPv6 with a port in brackets)", s)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%q: a zone is not allowed", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q: port 0", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// FormatAddress renders an address as `dns server N address` takes it.
func FormatAddress(ap netip.AddrPort) string {
	if ap.Port() == 0 {
		return ap.Addr().String()
	}
	return ap.String()
}

// Lines renders o as option lines ("dns server 0 address 192.0.2.53",
// "dns search-domains corp.example"), as a server pushes them.
func (o *Options) Lines() []string {
	var out []string
	for _, s := range o.Servers {
		head := "dns server " + strconv.Itoa(s.ID) + " "
		if len(s.Addresses) > 0 {
			a := make([]string, len(s.Addresses))
			for i, ap := range s.Addresses {
				a[i] = FormatAddress(ap)
			}
			out = append(out, head+"address "+strings.Join(a, " "))
		}
		if len(s.ResolveDomains) > 0 {
			out = append(out, head+"resolve-domains "+strings.Join(s.ResolveDomains, " "))
		}
		if s.DNSSEC != "" {
			out = append(out, head+"dnssec "+s.DNSSEC)
		}
		if s.Transport != "" {
			out = append(out, head+"transport "+s.Transport)
		}
		if s.SNI != "" {
			out = append(out, head+"sni "+s.SNI)
		}
	}
	if len(o.SearchDomains) > 0 {
		out = append(out, "dns search-domains "+strings.Join(o.SearchDomains, " "))
	}
	return out
}

// ValidDomain reports whether s is a DNS name (letters, digits, '-' and
// '_' in labels of up to 63 characters, 253 in all, an optional final dot).
func ValidDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
