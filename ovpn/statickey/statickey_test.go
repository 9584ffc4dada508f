package statickey

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestStaticKeyRoundTripAndLayout(t *testing.T) {
	var seq bytes.Buffer
	for i := 0; i < Size; i++ {
		seq.WriteByte(byte(i))
	}
	k, err := New(&seq)
	if err != nil {
		t.Fatal(err)
	}
	p := k.PEM()
	lines := strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")
	if len(lines) != 21 {
		t.Fatalf("%d lines, want 21:\n%s", len(lines), p)
	}
	if lines[3] != "-----BEGIN OpenVPN Static key V1-----" || lines[20] != "-----END OpenVPN Static key V1-----" {
		t.Errorf("markers: %q %q", lines[3], lines[20])
	}
	// Known answer: bytes 0x00..0x0f on the first hex line.
	if lines[4] != "000102030405060708090a0b0c0d0e0f" || lines[19] != "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" {
		t.Errorf("hex lines: %q ... %q", lines[4], lines[19])
	}
	back, err := Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	if back != k {
		t.Error("round trip changed the key")
	}
	crlf := bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))
	if back, err := Parse(crlf); err != nil || back != k {
		t.Errorf("CRLF parse: %v", err)
	}
}

func TestStaticKeyMatchesOpenVPNGenkey(t *testing.T) {
	if _, err := exec.LookPath("openvpn"); err != nil {
		t.Skip("openvpn not installed")
	}
	path := filepath.Join(t.TempDir(), "ovpn.key")
	if out, err := exec.Command("openvpn", "--genkey", "secret", path).CombinedOutput(); err != nil {
		t.Fatalf("openvpn --genkey: %v\n%s", err, out)
	}
	theirs, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(theirs); err != nil {
		t.Fatalf("parse openvpn key: %v", err)
	}
	k, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hexLine := regexp.MustCompile(`^[0-9a-f]{32}$`)
	shape := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if hexLine.MatchString(l) {
				l = "HEX32"
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	if a, b := shape(k.PEM()), shape(theirs); a != b {
		t.Errorf("layout differs from openvpn --genkey:\nours:\n%s\ntheirs:\n%s", a, b)
	}
}

func TestStaticKeyParseErrors(t *testing.T) {
	k, _ := New(bytes.NewReader(make([]byte, Size)))
	good := string(k.PEM())
	for _, tc := range []struct{ name, in, want string }{
		{"no begin", "hello\n", "no \"-----BEGIN"},
		{"no end", strings.Replace(good, "-----END OpenVPN Static key V1-----", "", 1), "no \"-----END"},
		{"bad char", strings.Replace(good, "00000000000000000000000000000000\n-----END", "0000000000000000000000000000000z\n-----END", 1), "line 20: 'z' is not a hex digit"},
		{"short", strings.Replace(good, "00000000000000000000000000000000\n-----END", "-----END", 1), "has 240 bytes, want 256"},
		{"odd", strings.Replace(good, "00000000000000000000000000000000\n-----END", "000\n-----END", 1), "odd number of hex digits"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(errReader{}); err == nil {
		t.Error("New with failing reader succeeded")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }
