package profile

import (
	"crypto"
	"time"
)

// finish checks the profile as a whole and parses the key material.
func (ps *parser) finish() {
	p := ps.p
	end := ps.lastLine
	if !p.Client {
		ps.errorf(end, "the profile has no client line; cvpn runs OpenVPN client profiles only: add a line client")
	}
	if _, ok := ps.seen["dev"]; !ok {
		ps.warnf(end, "the profile has no dev line; dev tun is assumed")
		p.Dev = "tun"
	}
	// Resolve ports and transports of the remotes.
	defPort := 1194
	if ps.port != 0 {
		defPort = ps.port
	}
	for i := range p.Remotes {
		if p.Remotes[i].Port == 0 {
			p.Remotes[i].Port = defPort
		}
		if p.Remotes[i].Proto == "" {
			p.Remotes[i].Proto = p.Proto
		}
	}
	if p.DNS != nil {
		if err := p.DNS.Validate(); err != nil {
			ps.errorf(ps.dnsLine, "%v: add a line dns server N address ADDRESS", err)
		}
	}
	if len(p.Remotes) == 0 {
		ps.errorf(end, "the profile has no remote line: add remote HOST [PORT] [udp|tcp]")
	}
	now := ps.opts.Now()
	if ps.ca == nil && ps.seen["ca"] == 0 {
		ps.errorf(end, "the profile has no CA certificate: add a <ca> block or a ca FILE line")
	} else if ps.ca == nil {
		// The ca line is there but failed; it has its own diagnostic.
	} else if certs, err := ParseCertificates(ps.ca.text); err != nil {
		ps.errorf(ps.ca.line, "ca: %v", err)
	} else {
		valid := 0
		for _, c := range certs {
			if now.Before(c.NotAfter) && !now.Before(c.NotBefore) {
				valid++
			}
		}
		for _, c := range certs {
			sev := SeverityWarning
			if valid == 0 {
				sev = SeverityError
			}
			switch {
			case now.After(c.NotAfter):
				ps.diag(ps.ca.line, sev, "ca: certificate %s expired on %s; ask your administrator for a new profile", certName(c), c.NotAfter.UTC().Format(time.DateOnly))
			case now.Before(c.NotBefore):
				ps.diag(ps.ca.line, sev, "ca: certificate %s is not valid before %s; check the computer's clock", certName(c), c.NotBefore.UTC().Format(time.RFC3339))
			}
		}
		p.CA = certs
	}
	ps.clientCert(now)
	ps.staticKeys()

	if ps.cryptoAPILine != 0 {
		if p.ClientCert == nil && ps.cert == nil {
			ps.errorf(ps.cryptoAPILine, "cryptoapicert (the Windows certificate store) is not supported: export the certificate and key to PEM and add <cert> and <key> blocks")
		} else {
			ps.warnf(ps.cryptoAPILine, "cryptoapicert is ignored; the <cert> and <key> of the profile are used")
		}
	}
	if p.StaticChallenge != nil && !p.Auth.UserPass {
		ps.errorf(ps.staticChallengeLine, "static-challenge needs auth-user-pass: add a line auth-user-pass")
	}
	if ps.seen["cert"] == 0 && ps.seen["key"] == 0 && !p.Auth.UserPass && !p.Auth.Federated && ps.cryptoAPILine == 0 {
		ps.errorf(end, "the profile has no way to authenticate: add <cert> and <key> (mutual), auth-user-pass (Active Directory) or auth-federate (SAML)")
	}
}

func (ps *parser) clientCert(now time.Time) {
	p := ps.p
	switch {
	case ps.cert == nil && ps.key == nil:
		return
	case ps.cert == nil:
		ps.errorf(ps.key.line, "key without cert: add the client certificate as a <cert> block or cert FILE line")
		return
	case ps.key == nil:
		ps.errorf(ps.cert.line, "cert without key: add the private key as a <key> block or key FILE line")
		return
	}
	chain, err := ParseCertificates(ps.cert.text)
	if err != nil {
		ps.errorf(ps.cert.line, "cert: %v", err)
	}
	key, kerr := ParsePrivateKey(ps.key.text)
	if kerr != nil {
		ps.errorf(ps.key.line, "key: %v", kerr)
	}
	if err != nil || kerr != nil {
		return
	}
	leaf := chain[0]
	p.CertChain = chain
	switch {
	case now.After(leaf.NotAfter):
		ps.errorf(ps.cert.line, "cert: the client certificate %s expired on %s; ask your administrator for a new certificate", certName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		ps.errorf(ps.cert.line, "cert: the client certificate %s is not valid before %s; check the computer's clock", certName(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	case leaf.NotAfter.Sub(now) < expiryWarning:
		ps.warnf(ps.cert.line, "cert: the client certificate %s expires on %s", certName(leaf), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if !keyMatches(key, leaf) {
		ps.errorf(ps.key.line, "key: the private key does not belong to the certificate %s (line %d): use the key that was issued with this certificate", certName(leaf), ps.cert.line)
		return
	}
	p.ClientCert = newTLSCertificate(chain, crypto.Signer(key))
	p.Auth.Certificate = true
}

func (ps *parser) staticKeys() {
	p := ps.p
	if ps.tlsAuth != nil {
		k, err := ParseStaticKey(ps.tlsAuth.text)
		if err != nil {
			ps.errorf(ps.tlsAuth.line, "tls-auth: %v", err)
		} else {
			p.TLSAuth = k
		}
	}
	if ps.tlsCrypt != nil {
		k, err := ParseStaticKey(ps.tlsCrypt.text)
		if err != nil {
			ps.errorf(ps.tlsCrypt.line, "tls-crypt: %v", err)
		} else {
			p.TLSCrypt = k
		}
	}
	if ps.tlsCryptV2 != nil {
		k, err := ParseTLSCryptV2ClientKey(ps.tlsCryptV2.text)
		if err != nil {
			ps.errorf(ps.tlsCryptV2.line, "tls-crypt-v2: %v", err)
		} else {
			p.TLSCryptV2 = k
		}
	}
	n := 0
	for _, m := range []*material{ps.tlsAuth, ps.tlsCrypt, ps.tlsCryptV2} {
		if m != nil {
			n++
		}
	}
	if n > 1 {
		line := ps.tlsAuth
		if line == nil {
			line = ps.tlsCrypt
		}
		ps.errorf(line.line, "tls-auth, tls-crypt and tls-crypt-v2 exclude each other: keep the one the endpoint uses")
	}
	if ps.keyDirLine != 0 && ps.tlsAuth == nil {
		ps.warnf(ps.keyDirLine, "key-direction has no effect without tls-auth")
	}
}
