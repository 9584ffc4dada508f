package export

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// InitOptions shape a new lab.
type InitOptions struct {
	// CN is the server certificate's common name ("server" when empty).
	CN string
	// PublicAddress is the host clients dial ("127.0.0.1" when empty).
	PublicAddress string
	// Listen is the listen address (config.DefaultListen when empty).
	Listen string
	// PKI options (key type, clock); zero value = RSA 2048, time.Now.
	PKI pki.Options
}

// serverTOML is the server.toml of a new lab.
const serverTOML = `# cvpn reference server (an AWS Client VPN-style endpoint).
# Keys: see "Reference server config" in the cvpn documentation.
endpoint_id = "cvpn-endpoint-lab"
listen = %q          # UDP or TCP port; 443 or 1194 like AWS, any for labs
transport = "udp"               # udp | tcp
public_address = %q  # the remote line of exported profiles
client_cidr = %q   # /12 .. /22 like AWS
split_tunnel = false            # false: push redirect-gateway def1; true: push the routes below
dns_servers = []
session_timeout_hours = 24
client_route_enforcement = false
login_banner = ""
data_ciphers = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"]

[tls]
ca = "pki/ca.crt"
cert = "pki/server.crt"
key = "pki/server.key"
crl = ""                        # e.g. "pki/crl.pem"; an expired CRL refuses every handshake, like AWS
tls_auth = ""                   # e.g. "pki/ta.key"
tls_crypt = ""                  # e.g. "pki/tls-crypt.key"
tls_crypt_v2 = ""               # e.g. "pki/tls-crypt-v2-server.key": a key per exported profile
tls_crypt_v2_max_age = 0        # days; refuse older tls-crypt-v2 client keys (0: no limit)

[authentication]
mutual = true                   # require client certificates
users_file = ""                 # users with bcrypt hashes, groups, optional TOTP secret
saml_idp_metadata = ""
web_auth = false                # true: after the password, a web sign-in on the server's own page (AUTH_PENDING)

# [[routes]]
# destination = "172.31.0.0/16"

# [dns]                         # optional, with dns_servers: pushed as the dns option to clients that support it
# search_domains = ["corp.example"]
# resolve_domains = ["corp.example"]  # split DNS: only these names go to dns_servers

[[authorization_rules]]
destination = "0.0.0.0/0"
access_group = ""               # empty = all users

[client_connect_handler]
command = []                    # argv; request JSON on stdin, response JSON on stdout
url = ""                        # or HTTP POST of the request JSON

[connection_log]
path = "connections.log"        # JSON lines; "-" for stdout

[metrics]
listen = ""                     # Prometheus text endpoint, e.g. 127.0.0.1:9464

[admin]
socket = "admin.sock"           # unix socket for connections/terminate
`

// InitLab writes DIR/server.toml, a PKI under DIR/pki (CA, server,
// client1) and DIR/client1.ovpn. It refuses to overwrite an existing
// server.toml. It returns the paths written.
func InitLab(dir string, o InitOptions) ([]string, error) {
	if o.CN == "" {
		o.CN = "server"
	}
	if o.PublicAddress == "" {
		o.PublicAddress = "127.0.0.1"
	}
	if o.Listen == "" {
		o.Listen = config.DefaultListen
	}
	cfgPath := filepath.Join(dir, "server.toml")
	if _, err := os.Stat(cfgPath); err == nil {
		return nil, fmt.Errorf("%s already exists; init makes a new lab in an empty folder", cfgPath)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	spec := pki.Spec{ServerName: o.CN, Clients: []string{DefaultClient}, Options: o.PKI}
	if a, err := netip.ParseAddr(o.PublicAddress); err == nil {
		spec.ServerIPs = []net.IP{a.AsSlice()}
	} else {
		spec.ServerDNS = []string{o.PublicAddress}
	}
	p, err := pki.Generate(spec)
	if err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(dir, "pki")
	if err := p.WriteDir(pkiDir); err != nil {
		return nil, err
	}
	text := fmt.Sprintf(serverTOML, o.Listen, o.PublicAddress, config.DefaultClientCIDR)
	if err := pki.WriteFileAtomic(cfgPath, []byte(text), 0o644); err != nil {
		return nil, err
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("the generated configuration does not load: %w", err)
	}
	prof, err := Profile(c, DefaultClient)
	if err != nil {
		return nil, err
	}
	profPath := filepath.Join(dir, DefaultClient+".ovpn")
	if err := pki.WriteFileAtomic(profPath, []byte(prof), 0o600); err != nil {
		return nil, err
	}
	return []string{cfgPath, pkiDir, profPath}, nil
}
