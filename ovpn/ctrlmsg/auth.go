package ctrlmsg

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Challenge is a CRV1 dynamic challenge:
// "CRV1:<flags>:<state_id>:<username base64>:<text>". The text may contain
// colons (AWS puts the IdP URL there).
type Challenge struct {
	Flags    string // comma-separated; E = echo response, R = response required
	StateID  string
	Username string // decoded from base64 when possible, else as sent
	// UsernameRaw is the field exactly as sent.
	UsernameRaw string
	Text        string
}

// Echo reports whether the response may be shown while typed (flag E).
func (c *Challenge) Echo() bool { return c.hasFlag("E") }

// ResponseRequired reports flag R.
func (c *Challenge) ResponseRequired() bool { return c.hasFlag("R") }

func (c *Challenge) hasFlag(f string) bool {
	for _, x := range strings.Split(c.Flags, ",") {
		if x == f {
			return true
		}
	}
	return false
}

// String renders the challenge as "CRV1:flags:state:user:text".
func (c *Challenge) String() string {
	u := c.UsernameRaw
	if u == "" && c.Username != "" {
		u = base64.StdEncoding.EncodeToString([]byte(c.Username))
	}
	return "CRV1:" + c.Flags + ":" + c.StateID + ":" + u + ":" + c.Text
}

// ParseCRV1 parses a "CRV1:..." challenge, splitting on the first four
// colons only.
func ParseCRV1(s string) (*Challenge, error) {
	if !strings.HasPrefix(s, "CRV1:") {
		return nil, fmt.Errorf("CRV1 challenge must start with \"CRV1:\", got %.20q", s)
	}
	parts := strings.SplitN(s[len("CRV1:"):], ":", 4)
	if len(parts) != 4 {
		return nil, fmt.Errorf("CRV1 challenge has %d of the 5 colon-separated fields (CRV1:flags:state_id:username:text)", len(parts)+1)
	}
	c := &Challenge{Flags: parts[0], StateID: parts[1], UsernameRaw: parts[2], Username: parts[2], Text: parts[3]}
	if c.StateID == "" {
		return nil, fmt.Errorf("CRV1 challenge has an empty state_id")
	}
	if b, err := base64.StdEncoding.DecodeString(parts[2]); err == nil {
		c.Username = string(b)
	}
	return c, nil
}

// CRV1Response builds the password answering a dynamic challenge:
// "CRV1::<state_id>::<response>".
func CRV1Response(stateID, response string) string {
	return "CRV1::" + stateID + "::" + response
}

// ParseCRV1Response splits a "CRV1::<state_id>::<response>" password (server
// side). The response may contain colons.
func ParseCRV1Response(password string) (stateID, response string, ok bool) {
	rest, found := strings.CutPrefix(password, "CRV1::")
	if !found {
		return "", "", false
	}
	stateID, response, ok = strings.Cut(rest, "::")
	if !ok || stateID == "" {
		return "", "", false
	}
	return stateID, response, true
}

// SCRV1 builds the static-challenge password
// "SCRV1:<base64 password>:<base64 response>".
func SCRV1(password, response string) string {
	enc := base64.StdEncoding
	return "SCRV1:" + enc.EncodeToString([]byte(password)) + ":" + enc.EncodeToString([]byte(response))
}

// ParseSCRV1 decodes an SCRV1 password (server side).
func ParseSCRV1(s string) (password, response string, err error) {
	rest, ok := strings.CutPrefix(s, "SCRV1:")
	if !ok {
		return "", "", fmt.Errorf("static challenge password must start with \"SCRV1:\"")
	}
	p, r, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", fmt.Errorf("static challenge password lacks the response field")
	}
	pb, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return "", "", fmt.Errorf("static challenge password field is not valid base64")
	}
	rb, err := base64.StdEncoding.DecodeString(r)
	if err != nil {
		return "", "", fmt.Errorf("static challenge response field is not valid base64")
	}
	return string(pb), string(rb), nil
}
