// Command gen creates the certificates and keys of the profile test data
// (testdata/profiles/pki) once, and renders the profiles in
// testdata/profiles/{good,bad} from the templates next to it. Run it from
// the repository root:
//
//	go run ./testdata/profiles/gen          # render profiles from existing pki
//	go run ./testdata/profiles/gen -newpki  # also make new keys (changes every profile)
//
// Nothing here is connected to; names use example.com, *.test and
// AWS-shaped host names as text only.
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

func main() {
	newPKI := flag.Bool("newpki", false, "generate new certificates and keys")
	root := flag.String("root", "testdata/profiles", "test data folder")
	flag.Parse()
	pki := filepath.Join(*root, "pki")
	if *newPKI {
		if err := makePKI(pki); err != nil {
			log.Fatal(err)
		}
	}
	if err := render(*root, pki); err != nil {
		log.Fatal(err)
	}
}

func write(path string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(k crypto.Signer) []byte {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	default:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			log.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
}

func ecKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	return k
}

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func issue(serial int64, cn string, isCA bool, from, to time.Time, key crypto.Signer, parent *issued, eku x509.ExtKeyUsage) issued {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"cvpn test"}},
		NotBefore:             from,
		NotAfter:              to,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{eku}
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		log.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return issued{cert: c, key: key}
}

func staticKey() []byte {
	raw := make([]byte, 256)
	if _, err := rand.Read(raw); err != nil {
		log.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n")
	h := hex.EncodeToString(raw)
	for i := 0; i < len(h); i += 32 {
		b.WriteString(h[i:i+32] + "\n")
	}
	b.WriteString("-----END OpenVPN Static key V1-----\n")
	return []byte(b.String())
}

func makePKI(dir string) error {
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := issue(1, "cvpn test CA", true, from, to, ecKey(), nil, 0)
	write(filepath.Join(dir, "ca.crt"), pemCert(ca.cert.Raw))
	client := issue(2, "client1.vpn.example.com", false, from, to, ecKey(), &ca, x509.ExtKeyUsageClientAuth)
	write(filepath.Join(dir, "client.crt"), pemCert(client.cert.Raw))
	write(filepath.Join(dir, "client.key"), pemKey(client.key))
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	rsaClient := issue(3, "client-rsa.vpn.example.com", false, from, to, rk, &ca, x509.ExtKeyUsageClientAuth)
	write(filepath.Join(dir, "client-rsa.crt"), pemCert(rsaClient.cert.Raw))
	write(filepath.Join(dir, "client-rsa.key"), pemKey(rsaClient.key))
	expired := issue(4, "expired.vpn.example.com", false,
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), ecKey(), &ca, x509.ExtKeyUsageClientAuth)
	write(filepath.Join(dir, "expired.crt"), pemCert(expired.cert.Raw))
	write(filepath.Join(dir, "expired.key"), pemKey(expired.key))
	write(filepath.Join(dir, "other.key"), pemKey(ecKey()))
	write(filepath.Join(dir, "ta.key"), staticKey())
	write(filepath.Join(dir, "tc.key"), staticKey())
	// A tls-crypt-v2 client key: Kc (256 bytes) then a stand-in WKc
	// (tag, wrapped key, length); only its shape matters to the parser.
	v2 := make([]byte, 256+32+256+2)
	if _, err := rand.Read(v2); err != nil {
		return err
	}
	v2[len(v2)-2], v2[len(v2)-1] = 0x01, 0x22
	write(filepath.Join(dir, "tc-v2.key"), pem.EncodeToMemory(&pem.Block{Type: "OpenVPN tls-crypt-v2 client key", Bytes: v2}))
	return nil
}

func render(root, pki string) error {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(pki, name))
		if err != nil {
			log.Fatal(err)
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	data := map[string]string{}
	for _, n := range []string{"ca.crt", "client.crt", "client.key", "client-rsa.crt", "client-rsa.key",
		"expired.crt", "expired.key", "other.key", "ta.key", "tc.key", "tc-v2.key"} {
		key := strings.NewReplacer(".", "_", "-", "_").Replace(n)
		data[key] = read(n)
	}
	tdir := filepath.Join(root, "gen", "templates")
	for _, kind := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join(tdir, kind, "*.ovpn"))
		if err != nil {
			return err
		}
		for _, f := range files {
			t, err := template.New(filepath.Base(f)).Option("missingkey=error").ParseFiles(f)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := t.Execute(&out, data); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			b := out.Bytes()
			if strings.Contains(f, "crlf") {
				b = append([]byte("\xef\xbb\xbf"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
			}
			write(filepath.Join(root, kind, filepath.Base(f)), b)
		}
	}
	// Files referenced by relative paths from good/relative-paths.ovpn.
	for _, n := range []string{"ca.crt", "client.crt", "client.key", "ta.key"} {
		write(filepath.Join(root, "good", "certs", n), []byte(read(n)+"\n"))
	}
	return nil
}
