package users

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// RFC 6238 appendix B test vectors (8 digits).
func TestTOTPRFC6238(t *testing.T) {
	keys := map[string][]byte{
		"SHA1":   []byte("12345678901234567890"),
		"SHA256": []byte("12345678901234567890123456789012"),
		"SHA512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	hs := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}
	vectors := []struct {
		unix int64
		algo string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		got := TOTP(keys[v.algo], time.Unix(v.unix, 0), 30*time.Second, 8, hs[v.algo])
		if got != v.want {
			t.Errorf("T=%d %s: %s, want %s", v.unix, v.algo, got, v.want)
		}
	}
}

func hash1(t *testing.T, p string) string {
	b, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secret is base32 of "12345678901234567890".
const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func dir(t *testing.T) *Directory {
	doc := fmt.Sprintf(`[[user]]
name = "alice"
password_bcrypt = %q
groups = ["eng", "ops"]

[[user]]
name = "carol"
password_bcrypt = %q
totp_secret = %q
`, hash1(t, "s3cret"), hash1(t, "pw"), strings.ToLower(secret))
	d, err := Parse("users.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	d := dir(t)
	now := time.Unix(1111111111, 0)
	code := TOTP([]byte("12345678901234567890"), now, TOTPStep, 6, sha1.New)
	if code != "050471" {
		t.Fatalf("6-digit code %s, want 050471 (RFC 6238 vector truncated)", code)
	}
	u, err := d.Authenticate("alice", "s3cret", now)
	if err != nil || u.Name != "alice" || len(u.Groups) != 2 {
		t.Fatalf("alice: %v %+v", err, u)
	}
	if _, err := d.Authenticate("carol", ctrlmsg.SCRV1("pw", code), now); err != nil {
		t.Errorf("carol with the current code: %v", err)
	}
	if _, err := d.Authenticate("carol", ctrlmsg.SCRV1("pw", code), now.Add(30*time.Second)); err != nil {
		t.Errorf("carol one step late: %v", err)
	}
	if !d.AnyMFA() || d.Len() != 2 {
		t.Errorf("AnyMFA/Len wrong")
	}
	bad := []struct {
		user, pass string
		at         time.Time
		want       string
	}{
		{"alice", "hunter2x", now, `wrong password for user "alice"`},
		{"mallory", "s3cret", now, `unknown user "mallory"`},
		{"carol", "pw", now, `user "carol" needs an MFA code`},
		{"carol", ctrlmsg.SCRV1("pw", code), now.Add(5 * time.Minute), `wrong or expired MFA code for user "carol"`},
		{"carol", ctrlmsg.SCRV1("bad", code), now, `wrong password for user "carol"`},
		{"carol", "SCRV1:!!:??", now, "malformed static-challenge answer"},
	}
	for _, b := range bad {
		_, err := d.Authenticate(b.user, b.pass, b.at)
		if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s/%s: %v, want %q", b.user, b.pass, err, b.want)
		}
		if err != nil && (strings.Contains(err.Error(), b.pass) && b.pass != "") {
			t.Errorf("error %q reveals the password", err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"[[user]]\nname = \"a\"\npassword_bcrypt = \"plain\"\n": `user "a": password_bcrypt is not a bcrypt hash`,
		"[[user]]\nname = \"\"\n":                               "user[0].name: empty",
		"[[user]]\nname = \"a\"\nshoe = 1\n":                    "unknown key user.shoe",
		"[[user]]\nname = \"a\"\npassword_bcrypt = \"$2a$04$" + strings.Repeat("a", 53) + "\"\ntotp_secret = \"!!\"\n": "totp_secret: not base32",
		"[[user\n": "users.toml:2:",
	}
	for doc, want := range cases {
		_, err := Parse("users.toml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}
