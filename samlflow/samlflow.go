package samlflow

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	// Audience is the SAML audience and SP entity ID of AWS Client VPN.
	Audience = "urn:amazon:webservices:clientvpn"
	// DefaultPort is the loopback port the IdP posts the assertion to.
	DefaultPort = 35001
	// ACSURL is the assertion consumer service URL configured at the IdP.
	ACSURL = "http://127.0.0.1:35001"
	// MaxResponseSize is the largest SAMLResponse value (base64 text, as
	// carried in the CRV1 password) accepted anywhere: 128 KB.
	MaxResponseSize = 128 * 1024

	// ProtocolNS is the SAML 2.0 protocol namespace (samlp).
	ProtocolNS = "urn:oasis:names:tc:SAML:2.0:protocol"
	// AssertionNS is the SAML 2.0 assertion namespace (saml).
	AssertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// ErrTooLarge is matched (errors.Is) by every size-limit error.
var ErrTooLarge = errors.New("the SAML response exceeds the maximum size")

// SizeError reports a SAMLResponse over MaxResponseSize.
type SizeError struct {
	Size int // bytes seen (may be a lower bound)
}

func (e *SizeError) Error() string {
	return "the SAML response (" + strconv.Itoa(e.Size) + " bytes) exceeds the maximum size of " +
		strconv.Itoa(MaxResponseSize) + " bytes (128 KB)"
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// DecodeResponse checks that value (the SAMLResponse form field) is at most
// MaxResponseSize bytes of standard base64 whose document element is a
// samlp:Response, and returns the decoded XML. It does not check signatures.
func DecodeResponse(value string) ([]byte, error) {
	if len(value) > MaxResponseSize {
		return nil, &SizeError{Size: len(value)}
	}
	if value == "" {
		return nil, errors.New("SAMLResponse is empty")
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("SAMLResponse is not valid base64: %w", err)
	}
	if err := checkRoot(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkRoot reads tokens up to the first element and requires it to be
// {ProtocolNS}Response.
func checkRoot(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for i := 0; i < 10000; i++ { // bounded: prolog tokens only
		tok, err := d.Token()
		if err == io.EOF {
			return errors.New("SAMLResponse is not an XML document: no root element")
		}
		if err != nil {
			return fmt.Errorf("SAMLResponse is not well-formed XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != ProtocolNS || se.Name.Local != "Response" {
				return fmt.Errorf("SAMLResponse root element is {%s}%s, want samlp:Response {%s}Response",
					se.Name.Space, se.Name.Local, ProtocolNS)
			}
			return nil
		}
	}
	return errors.New("SAMLResponse is not an XML document: prolog too long")
}
