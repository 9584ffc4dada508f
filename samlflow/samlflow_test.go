package samlflow

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestDecodeResponse(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	good := `<?xml version="1.0" encoding="UTF-8"?><!-- c --><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r"/>`
	raw, err := DecodeResponse(b64(good))
	if err != nil || string(raw) != good {
		t.Fatalf("good: %v %q", err, raw)
	}
	// Default namespace form and line-wrapped base64 (some IdPs wrap at 76).
	dflt := `<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`
	wrapped := b64(dflt)
	wrapped = wrapped[:20] + "\r\n" + wrapped[20:]
	if _, err := DecodeResponse(wrapped); err != nil {
		t.Fatalf("wrapped default-ns: %v", err)
	}
	for in, want := range map[string]string{
		"":                                   "empty",
		"***":                                "not valid base64",
		b64("plain"):                         "no root element",
		b64(`<Response/>`):                   "want samlp:Response",
		b64(`<x:Response xmlns:x="urn:y"/>`): "root element is {urn:y}Response",
		b64(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`): "LogoutResponse",
		b64(`<a`): "not well-formed",
	} {
		_, err := DecodeResponse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", in, err, want)
		}
	}
	big := strings.Repeat("A", MaxResponseSize+1)
	_, err = DecodeResponse(big)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "the SAML response (131073 bytes) exceeds the maximum size of 131072 bytes (128 KB)" {
		t.Fatalf("big: %v", err)
	}
	// Exactly at the limit is allowed by size (then fails on content).
	if _, err := DecodeResponse(strings.Repeat("A", MaxResponseSize)); errors.Is(err, ErrTooLarge) {
		t.Fatal("limit is inclusive")
	}
}
