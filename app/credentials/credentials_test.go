package credentials

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "creds.txt")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFileThreeLinesCRLF(t *testing.T) {
	f, err := ReadFile(write(t, "alice\r\np@ss word\r\n123456\r\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, p, err := f.UserPass(context.Background(), "")
	if err != nil || u != "alice" || p != "p@ss word" {
		t.Fatalf("got %q %q %v", u, p, err)
	}
	code, err := f.Challenge(context.Background(), "Enter MFA code ", false)
	if err != nil || code != "123456" {
		t.Fatalf("code %q %v", code, err)
	}
	if _, err := f.Challenge(context.Background(), "Enter MFA code ", false); err == nil || !strings.Contains(err.Error(), "Enter MFA code") {
		t.Fatalf("second use of a one-time code: err = %v, want an error quoting the server's question", err)
	}
	if _, _, err := f.UserPass(context.Background(), "refused"); err == nil {
		t.Fatal("asking a file again after a refusal should fail")
	}
}

func TestReadFileErrorsNameTheLine(t *testing.T) {
	if _, err := ReadFile(write(t, "\nsecret\n"), nil); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("empty user: err = %v", err)
	}
	f, err := ReadFile(write(t, "bob\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.UserPass(context.Background(), ""); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("missing password: err = %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Fatal("missing file accepted")
	}
	var nilTerm *Terminal
	if _, _, err := nilTerm.UserPass(context.Background(), ""); err != ErrNoTerminal {
		t.Fatalf("no terminal: err = %v", err)
	}
}
