package users

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// Limits.
const (
	MaxGroups     = 200
	MaxNameLength = 255
	TOTPStep      = 30 * time.Second
	TOTPDigits    = 6
)

// ErrDenied is wrapped by every authentication failure. Its text never
// contains the password or the code.
var ErrDenied = errors.New("authentication failed")

// User is one directory entry.
type User struct {
	Name           string   `toml:"name"`
	PasswordBcrypt string   `toml:"password_bcrypt"`
	Groups         []string `toml:"groups"`
	TOTPSecret     string   `toml:"totp_secret"`
	totpKey        []byte
}

// HasMFA reports whether the user must answer the static challenge.
func (u *User) HasMFA() bool { return len(u.totpKey) > 0 }

// Directory is a loaded users file.
type Directory struct {
	byName map[string]*User
	// dummy is a valid hash compared against for unknown users so that
	// timing does not reveal which names exist.
	dummy []byte
}

type fileDoc struct {
	User []*User `toml:"user"`
}

// Load reads a users file.
func Load(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading users file: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a users file; path names it in errors.
func Parse(path string, data []byte) (*Directory, error) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %s (known: name, password_bcrypt, groups, totp_secret)", path, und[0].String())
	}
	d := &Directory{byName: map[string]*User{}}
	for i, u := range doc.User {
		at := fmt.Sprintf("%s: user[%d]", path, i)
		if u.Name == "" || len(u.Name) > MaxNameLength || strings.ContainsAny(u.Name, "\x00\n") {
			return nil, fmt.Errorf("%s.name: empty, longer than %d bytes or with control characters", at, MaxNameLength)
		}
		at = fmt.Sprintf("%s: user %q", path, u.Name)
		if _, dup := d.byName[u.Name]; dup {
			return nil, fmt.Errorf("%s: listed twice", at)
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordBcrypt)); err != nil {
			return nil, fmt.Errorf("%s: password_bcrypt is not a bcrypt hash ($2a$/$2b$...)", at)
		}
		if len(u.Groups) > MaxGroups {
			return nil, fmt.Errorf("%s: %d groups, at most %d", at, len(u.Groups), MaxGroups)
		}
		for _, g := range u.Groups {
			if g == "" || len(g) > MaxNameLength {
				return nil, fmt.Errorf("%s: group names must be 1..%d characters", at, MaxNameLength)
			}
		}
		if u.TOTPSecret != "" {
			k, err := DecodeSecret(u.TOTPSecret)
			if err != nil {
				return nil, fmt.Errorf("%s: totp_secret: %v", at, err)
			}
			u.totpKey = k
		}
		d.byName[u.Name] = u
	}
	d.dummy, _ = bcrypt.GenerateFromPassword([]byte("cvpn-dummy"), bcrypt.MinCost)
	return d, nil
}

// AnyMFA reports whether some user has a TOTP secret (exported profiles
// then carry static-challenge).
func (d *Directory) AnyMFA() bool {
	for _, u := range d.byName {
		if u.HasMFA() {
			return true
		}
	}
	return false
}

// Len returns the number of users.
func (d *Directory) Len() int { return len(d.byName) }

// Authenticate checks a user name and the password a client sent. For
// users with a TOTP secret the password must be an SCRV1 static-challenge
// answer carrying a currently valid code (one step of clock skew either
// way is accepted). It returns the user or an error wrapping ErrDenied
// whose text says why without revealing secrets.
func (d *Directory) Authenticate(name, password string, now time.Time) (*User, error) {
	u := d.byName[name]
	pass, code := password, ""
	if strings.HasPrefix(password, "SCRV1:") {
		p, c, err := ctrlmsg.ParseSCRV1(password)
		if err != nil {
			return nil, fmt.Errorf("%w: user %q: malformed static-challenge answer", ErrDenied, name)
		}
		pass, code = p, c
	}
	if u == nil {
		_ = bcrypt.CompareHashAndPassword(d.dummy, []byte(pass))
		return nil, fmt.Errorf("%w: unknown user %q", ErrDenied, name)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordBcrypt), []byte(pass)); err != nil {
		return nil, fmt.Errorf("%w: wrong password for user %q", ErrDenied, name)
	}
	if u.HasMFA() {
		if code == "" {
			return nil, fmt.Errorf("%w: user %q needs an MFA code (static challenge) and sent none", ErrDenied, name)
		}
		if !VerifyTOTP(u.totpKey, code, now) {
			return nil, fmt.Errorf("%w: wrong or expired MFA code for user %q", ErrDenied, name)
		}
	}
	return u, nil
}

// DecodeSecret decodes a base32 TOTP secret (case, spaces and padding are
// forgiven).
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	s = strings.TrimRight(s, "=")
	k, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, errors.New("not base32")
	}
	if len(k) < 10 {
		return nil, errors.New("shorter than 80 bits")
	}
	return k, nil
}

// TOTP computes the RFC 6238 code of key at t with the given step, digit
// count and HMAC hash (RFC 4226 dynamic truncation).
func TOTP(key []byte, t time.Time, step time.Duration, digits int, h func() hash.Hash) string {
	counter := uint64(t.Unix() / int64(step/time.Second))
	return hotp(key, counter, digits, h)
}

func hotp(key []byte, counter uint64, digits int, h func() hash.Hash) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(h, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// VerifyTOTP checks a 6-digit SHA-1 code with a 30 s step, accepting the
// previous, current and next step.
func VerifyTOTP(key []byte, code string, now time.Time) bool {
	code = strings.TrimSpace(code)
	ok := 0
	for _, d := range []time.Duration{-TOTPStep, 0, TOTPStep} {
		want := TOTP(key, now.Add(d), TOTPStep, TOTPDigits, sha1.New)
		ok |= subtle.ConstantTimeCompare([]byte(want), []byte(code))
	}
	return ok == 1
}
