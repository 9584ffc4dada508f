package km2

import (
	"strconv"
	"strings"
)

// OCC describes the options consistency string ("V4,dev-type tun,...")
// both peers put in key method 2. Peers only compare it for warnings.
type OCC struct {
	Server bool   // tls-server instead of tls-client
	TCP    bool   // proto TCPv4_CLIENT/SERVER instead of UDPv4
	IPv6   bool   // UDPv6/TCPv6
	TunMTU int    // 0 = 1500
	Cipher string // e.g. AES-256-GCM
	// Auth is the digest name for CBC ciphers; empty for AEAD ciphers.
	Auth string
	// KeyBits is the cipher key size in bits.
	KeyBits int
	// CompLZO adds "comp-lzo" (set for "comp-lzo no" / "compress stub").
	CompLZO bool
}

func isAEAD(c string) bool {
	u := strings.ToUpper(c)
	return strings.HasSuffix(u, "-GCM") || u == "CHACHA20-POLY1305"
}

// linkMTU estimates OpenVPN's OCC link-mtu the way 2.6 reports it (tun-mtu
// plus opcode, packet_id, tag or HMAC, IV and one block of padding); peers
// only log a warning on mismatch.
func (o OCC) linkMTU() int {
	mtu := o.TunMTU
	if mtu == 0 {
		mtu = 1500
	}
	over := 1 + 4 // opcode + packet_id
	block := 16
	if strings.EqualFold(o.Cipher, "CHACHA20-POLY1305") {
		block = 1
	}
	if isAEAD(o.Cipher) {
		over += 16 + 12 + block // tag + IV + block
	} else {
		switch strings.ToUpper(strings.ReplaceAll(o.Auth, "-", "")) {
		case "SHA1":
			over += 20
		case "SHA256":
			over += 32
		case "SHA512":
			over += 64
		}
		over += 16 + block // IV + padding
	}
	if o.CompLZO {
		over++
	}
	return mtu + over
}

// String renders the options string, e.g.
// "V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client".
func (o OCC) String() string {
	mtu := o.TunMTU
	if mtu == 0 {
		mtu = 1500
	}
	proto := "UDPv4"
	if o.IPv6 {
		proto = "UDPv6"
	}
	if o.TCP {
		proto = "TCPv4"
		if o.IPv6 {
			proto = "TCPv6"
		}
		if o.Server {
			proto += "_SERVER"
		} else {
			proto += "_CLIENT"
		}
	}
	auth := o.Auth
	if isAEAD(o.Cipher) || auth == "" {
		auth = "[null-digest]"
	}
	parts := []string{
		"V4",
		"dev-type tun",
		"link-mtu " + strconv.Itoa(o.linkMTU()),
		"tun-mtu " + strconv.Itoa(mtu),
		"proto " + proto,
	}
	if o.CompLZO {
		parts = append(parts, "comp-lzo")
	}
	parts = append(parts, "cipher "+o.Cipher, "auth "+auth)
	if o.KeyBits > 0 {
		parts = append(parts, "keysize "+strconv.Itoa(o.KeyBits))
	}
	parts = append(parts, "key-method 2")
	if o.Server {
		parts = append(parts, "tls-server")
	} else {
		parts = append(parts, "tls-client")
	}
	return strings.Join(parts, ",")
}

// ParseOCC splits an options string into its comma-separated options keyed
// by their first word (for example "cipher" -> "AES-256-GCM"). The leading
// version ("V4") is stored under "V".
func ParseOCC(s string) map[string]string {
	m := map[string]string{}
	for i, p := range strings.Split(s, ",") {
		if i == 0 && strings.HasPrefix(p, "V") {
			m["V"] = p[1:]
			continue
		}
		k, v, _ := strings.Cut(p, " ")
		if k != "" {
			m[k] = v
		}
	}
	return m
}
