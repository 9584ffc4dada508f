package profile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// MaxFileSize bounds a profile and every file it refers to.
const MaxFileSize = 1 << 20

// DefaultDataCiphers is OpenVPN 2.6's default data-ciphers list.
var defaultDataCiphers = []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}

// expiryWarning is how close to expiry a certificate gets a warning.
const expiryWarning = 30 * 24 * time.Hour

// Options tell Parse where the profile comes from.
type Options struct {
	// Name identifies the profile in diagnostics (a path or a stored name).
	Name string
	// BaseDir is the directory relative file references (cert, key, ca,
	// tls-auth, tls-crypt) are resolved against. Empty means the current
	// directory.
	BaseDir string
	// NoFiles refuses file references: every certificate and key must be
	// inline. The daemon uses it for profile text received over IPC.
	NoFiles bool
	// ReadFile reads a referenced file; nil means os.ReadFile with a size
	// limit of MaxFileSize.
	ReadFile func(path string) ([]byte, error)
	// Now is the clock for certificate expiry checks; nil means time.Now.
	Now func() time.Time
}

// ParseFile reads and parses a profile file. Name defaults to path and
// BaseDir to the file's directory. The error is set only when the file
// cannot be read.
func ParseFile(path string, opts Options) (*Profile, Diagnostics, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	if opts.Name == "" {
		opts.Name = path
	}
	if opts.BaseDir == "" {
		opts.BaseDir = filepath.Dir(path)
	}
	p, ds := Parse(data, opts)
	return p, ds, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse parses profile text. It always returns a profile (partly filled
// when there are errors) and the diagnostics in line order; the profile is
// usable when no diagnostic is an error.
func Parse(data []byte, opts Options) (*Profile, Diagnostics) {
	if opts.Name == "" {
		opts.Name = "profile"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadFile == nil {
		opts.ReadFile = readLimited
	}
	ps := &parser{opts: opts, seen: map[string]int{}, lastIndex: map[string]int{}}
	ps.p = &Profile{
		Name:                opts.Name,
		Proto:               "udp",
		ResolvRetryInfinite: true,
		KeyDirection:        KeyDirectionNone,
		DataCiphers:         append([]string(nil), defaultDataCiphers...),
		Digest:              "SHA1",
		RenegInterval:       3600 * time.Second,
		MSSFix:              1492,
		MSSFixMode:          "mtu",
		MSSFixDefault:       true,
		TunMTU:              1500,
		ConnectRetry:        time.Second,
		ConnectRetryMax:     300 * time.Second,
		ServerPollTimeout:   120 * time.Second,
		AuthRetry:           "none",
	}
	lines := splitLines(data)
	ps.lastLine = max(len(lines), 1)
	lx := &lexer{lines: lines, diag: ps.diag}
	items := lx.items()
	ps.run(items)
	sortDiagnostics(ps.diags)
	return ps.p, ps.diags
}

// material is a certificate or key given inline or by file.
type material struct {
	line int
	text []byte
	dir  string // tls-auth direction argument, "" when none
}

type parser struct {
	opts     Options
	p        *Profile
	diags    Diagnostics
	lastLine int
	seen     map[string]int
	// lastIndex is the index in Profile.Directives of the latest
	// directive of each name.
	lastIndex map[string]int
	ignore    map[string]bool // ignore-unknown-option names
	fwdCompat bool
	// tlsAuthMarkerDir is the direction of a "tls-auth [inline] DIR" line.
	tlsAuthMarkerDir string

	dnsLine                                      int // the first dns line, for Validate's error
	port                                         int
	proto                                        Proto
	protoSet                                     bool
	keyDirLine                                   int
	cryptoAPILine                                int
	authUserPassLine                             int
	staticChallengeLine                          int
	federateLine                                 int
	ca, cert, key, tlsAuth, tlsCrypt, tlsCryptV2 *material
}

func (ps *parser) diag(line int, sev Severity, format string, a ...any) {
	ps.diags = append(ps.diags, Diagnostic{File: ps.opts.Name, Line: line, Severity: sev, Message: fmt.Sprintf(format, a...)})
}

func (ps *parser) errorf(line int, format string, a ...any) {
	ps.diag(line, SeverityError, format, a...)
}

func (ps *parser) warnf(line int, format string, a ...any) {
	ps.diag(line, SeverityWarning, format, a...)
}

func sortDiagnostics(ds Diagnostics) {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Line < ds[j].Line })
}

func (ps *parser) run(items []item) {
	blocks := map[string]bool{}
	for _, it := range items {
		if it.inline {
			blocks[it.args[0]] = true
			continue
		}
		switch it.args[0] {
		case "tls-auth":
			if len(it.args) == 3 && strings.EqualFold(it.args[1], "[inline]") {
				ps.tlsAuthMarkerDir = it.args[2]
			}
		case "ignore-unknown-option":
			if ps.ignore == nil {
				ps.ignore = map[string]bool{}
			}
			for _, n := range it.args[1:] {
				ps.ignore[n] = true
			}
		case "setenv":
			if len(it.args) >= 3 && it.args[1] == "FORWARD_COMPATIBLE" && it.args[2] == "1" {
				ps.fwdCompat = true
			}
		}
	}
	for _, it := range items {
		if it.inline {
			ps.block(it)
			continue
		}
		name := it.args[0]
		args := it.args[1:]
		// "ca [inline]" only announces the <ca> block.
		if inlineable(name) && len(args) >= 1 && strings.EqualFold(args[0], "[inline]") {
			if !blocks[name] {
				ps.errorf(it.line, "%s [inline] but there is no <%s> block: add the <%s>...</%s> block or give a file name", name, name, name, name)
				continue
			}
			if name == "tls-auth" && len(args) == 2 {
				ps.keyDirection(it.line, args[1])
			}
			continue
		}
		ps.directive(Directive{Name: name, Args: args, Line: it.line}, false)
	}
	ps.finish()
	kept := ps.p.Directives[:0]
	for _, d := range ps.p.Directives {
		if d.Name != "" {
			kept = append(kept, d)
		}
	}
	ps.p.Directives = kept
}

// block handles an inline <tag> block.
func (ps *parser) block(it item) {
	tag := it.args[0]
	if !inlineable(tag) {
		switch tag {
		case "connection", "secret", "pkcs12", "dh", "crl-verify", "extra-certs", "http-proxy-user-pass":
			spec, _ := lookupDirective(tag)
			ps.errorf(it.line, "%s", spec.reason)
		case "auth-user-pass":
			ps.errorf(it.line, "inline <auth-user-pass> credentials are not supported: remove the block and pass the file with cvpn connect --auth-user-pass FILE")
		default:
			ps.errorf(it.line, "unknown inline block <%s>: cvpn understands <ca>, <cert>, <key>, <tls-auth>, <tls-crypt> and <tls-crypt-v2>", tag)
		}
		return
	}
	d := Directive{Name: tag, Line: it.line, Inline: true, Body: it.body}
	if tag == "tls-auth" && ps.tlsAuthMarkerDir != "" {
		// Keep the direction of "tls-auth [inline] DIR" with the block.
		d.Args = []string{"[inline]", ps.tlsAuthMarkerDir}
	}
	ps.directive(d, true)
}

func (ps *parser) directive(d Directive, inline bool) {
	spec, ok := lookupDirective(d.Name)
	if !ok {
		if ps.ignore[d.Name] || ps.fwdCompat {
			ps.warnf(d.Line, "unknown directive %q ignored (listed by ignore-unknown-option or FORWARD_COMPATIBLE)", d.Name)
			return
		}
		if s := suggest(d.Name); s != "" {
			ps.errorf(d.Line, "unknown directive %q: did you mean %q?", d.Name, s)
		} else {
			ps.errorf(d.Line, "unknown directive %q: cvpn supports the AWS Client VPN directive set; remove the line", d.Name)
		}
		return
	}
	switch spec.kind {
	case kindRefused:
		ps.errorf(d.Line, "%s", spec.reason)
		return
	case kindScript:
		ps.warnf(d.Line, "%s runs a script; cvpn never executes scripts, the directive is ignored", d.Name)
		ps.p.Directives = append(ps.p.Directives, d)
		return
	case kindIgnored:
		ps.warnf(d.Line, "%s is not used by cvpn and is ignored", d.Name)
		ps.p.Directives = append(ps.p.Directives, d)
		return
	}
	if !inline {
		if len(d.Args) < spec.min || (spec.max >= 0 && len(d.Args) > spec.max) {
			ps.errorf(d.Line, "%s: %s, got %d; usage: %s", d.Name, argCount(spec.min, spec.max), len(d.Args), spec.usage)
			return
		}
	}
	if !multiDirective(d.Name) {
		if first, dup := ps.seen[d.Name]; dup {
			ps.warnf(d.Line, "%s repeats line %d; the later one is used", d.Name, first)
			ps.dropDirective(d.Name)
		} else {
			ps.seen[d.Name] = d.Line
		}
	}
	var keep bool
	if d.Name == "setenv" && d.Args[0] == "opt" {
		keep = ps.setenvOpt(&d)
	} else {
		keep = spec.apply(ps, &d)
	}
	if keep {
		ps.lastIndex[d.Name] = len(ps.p.Directives)
		ps.p.Directives = append(ps.p.Directives, d)
	}
}

// dropDirective marks the earlier directive of a name that a later one
// overrides, so that Serialize writes only the one in effect; run removes
// the marked entries at the end.
func (ps *parser) dropDirective(name string) {
	if i, ok := ps.lastIndex[name]; ok {
		ps.p.Directives[i].Name = ""
	}
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "takes no argument"
	case min == max && min == 1:
		return "expects 1 argument"
	case min == max:
		return fmt.Sprintf("expects %d arguments", min)
	case max < 0:
		return fmt.Sprintf("expects at least %d argument(s)", min)
	}
	return fmt.Sprintf("expects %d to %d arguments", min, max)
}

// setenvOpt handles "setenv opt DIRECTIVE ARGS...": the directive is
// applied when cvpn knows it and ignored with a warning otherwise. It
// returns whether to keep the setenv line itself.
func (ps *parser) setenvOpt(d *Directive) bool {
	a := d.Args
	if len(a) < 2 {
		ps.errorf(d.Line, "setenv opt: name the directive, for example setenv opt block-outside-dns")
		return false
	}
	inner := Directive{Name: a[1], Args: a[2:], Line: d.Line}
	if _, ok := lookupDirective(inner.Name); !ok {
		ps.warnf(d.Line, "unknown directive %q in setenv opt ignored", inner.Name)
		return true
	}
	ps.directive(inner, false)
	return false
}

func (ps *parser) setenv(d *Directive) bool {
	a := d.Args
	if len(a) > 2 {
		ps.errorf(d.Line, "setenv: expects NAME VALUE, got %d arguments (quote values with spaces)", len(a))
		return false
	}
	v := ""
	if len(a) == 2 {
		v = a[1]
	}
	ps.p.Setenv = append(ps.p.Setenv, EnvVar{Name: a[0], Value: v})
	return true
}

func parsePort(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}

func (ps *parser) number(line int, name, s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		ps.errorf(line, "%s %s: expected a whole number from %d to %d", name, s, lo, hi)
		return 0, false
	}
	return n, true
}

func (ps *parser) seconds(line int, name, s string) (time.Duration, bool) {
	n, ok := ps.number(line, name, s, 0, 1<<30)
	if !ok {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func (ps *parser) keyDirection(line int, s string) bool {
	var kd KeyDirection
	switch s {
	case "0":
		kd = KeyDirection0
	case "1":
		kd = KeyDirection1
	default:
		ps.errorf(line, "key direction %q must be 0 or 1 (clients normally use 1)", s)
		return false
	}
	if ps.keyDirLine != 0 && ps.p.KeyDirection != kd {
		ps.errorf(line, "key direction %s contradicts key direction %s on line %d: keep one", kd, ps.p.KeyDirection, ps.keyDirLine)
		return false
	}
	ps.p.KeyDirection = kd
	if ps.keyDirLine == 0 {
		ps.keyDirLine = line
	}
	return true
}

// resolvePath makes a referenced path absolute against BaseDir.
func (ps *parser) resolvePath(path string) string {
	if filepath.IsAbs(path) || ps.opts.BaseDir == "" {
		return path
	}
	return filepath.Join(ps.opts.BaseDir, path)
}

// material records a ca/cert/key/tls-* directive and loads its file.
func (ps *parser) material(d *Directive) bool {
	if !d.Inline {
		path := d.Args[0]
		if ps.opts.NoFiles {
			ps.errorf(d.Line, "%s %s: file references are not allowed here; import the profile first (cvpn profile import) so the file is inlined", d.Name, path)
			return false
		}
		full := ps.resolvePath(path)
		data, err := ps.opts.ReadFile(full)
		if err != nil {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				ps.errorf(d.Line, "%s %s: file %s does not exist; put it next to the profile or use an inline <%s> block", d.Name, path, full, d.Name)
			default:
				ps.errorf(d.Line, "%s %s: cannot read %s: %v", d.Name, path, full, unwrapPathError(err))
			}
			return false
		}
		d.Inline = true
		d.Body = string(data)
	}
	m := &material{line: d.Line, text: []byte(d.Body)}
	switch d.Name {
	case "ca":
		ps.ca = m
	case "cert":
		ps.cert = m
	case "key":
		ps.key = m
	case "tls-auth":
		if len(d.Args) == 2 {
			if !ps.keyDirection(d.Line, d.Args[1]) {
				return false
			}
			m.dir = d.Args[1]
		}
		ps.tlsAuth = m
	case "tls-crypt":
		ps.tlsCrypt = m
	case "tls-crypt-v2":
		ps.tlsCryptV2 = m
	}
	return true
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func (ps *parser) route(line int, a []string) (Route, bool) {
	r, err := routeopt.Parse(a)
	if err != nil {
		ps.errorf(line, "%s", err)
		return r, false
	}
	r.Line = line
	return r, true
}

func (ps *parser) route6(line int, a []string) (Route, bool) {
	r, err := routeopt.ParseIPv6(a)
	if err != nil {
		ps.errorf(line, "%s", err)
		return r, false
	}
	r.Line = line
	return r, true
}

func (ps *parser) dhcpOption(line int, a []string) (DHCPOption, bool) {
	typ := strings.ToUpper(a[0])
	o := DHCPOption{Type: typ}
	if len(a) == 2 {
		o.Value = a[1]
	}
	need := func() bool {
		if len(a) != 2 || a[1] == "" {
			ps.errorf(line, "dhcp-option %s needs a value", typ)
			return false
		}
		return true
	}
	switch typ {
	case "DNS", "DNS6":
		if !need() {
			return o, false
		}
		ip, err := netip.ParseAddr(a[1])
		if err != nil || (typ == "DNS6" && !ip.Is6()) {
			ps.errorf(line, "dhcp-option %s %s: not an IP address", typ, a[1])
			return o, false
		}
	case "WINS", "NBDD", "NTP":
		if !need() {
			return o, false
		}
		if _, ok := parseIPv4(a[1]); !ok {
			ps.errorf(line, "dhcp-option %s %s: not an IPv4 address", typ, a[1])
			return o, false
		}
	case "DOMAIN", "DOMAIN-SEARCH", "ADAPTER_DOMAIN_SUFFIX", "DOMAIN-ROUTE", "NBS":
		if !need() {
			return o, false
		}
	case "NBT":
		if !need() {
			return o, false
		}
		switch a[1] {
		case "1", "2", "4", "8":
		default:
			ps.errorf(line, "dhcp-option NBT %s: the node type must be 1, 2, 4 or 8", a[1])
			return o, false
		}
	case "DISABLE-NBT":
		if len(a) != 1 {
			ps.errorf(line, "dhcp-option DISABLE-NBT takes no value")
			return o, false
		}
	default:
		ps.errorf(line, "dhcp-option %s: unknown option type; cvpn understands DNS, DNS6, DOMAIN, DOMAIN-SEARCH, DOMAIN-ROUTE, ADAPTER_DOMAIN_SUFFIX, WINS, NBDD, NTP, NBS, NBT, DISABLE-NBT", a[0])
		return o, false
	}
	return o, true
}
