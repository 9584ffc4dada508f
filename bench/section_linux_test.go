package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.md")
	os.WriteFile(p, []byte("# T\n\n## A\na\n\n## S title\nold\n\n## B\nb\n"), 0o644)
	if err := replaceSection(p, "## S title", "## S title\nnew\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := "# T\n\n## A\na\n\n## B\nb\n\n## S title\nnew\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if err := replaceSection(filepath.Join(t.TempDir(), "new.md"), "## S", "## S\nx\n"); err != nil {
		t.Fatal(err)
	}
}

// TestPushEpochPattern: the OpenVPN client's data keys are "epoch" only
// when the server's PUSH_REPLY carries aead-epoch in its protocol-flags.
func TestPushEpochPattern(t *testing.T) {
	for _, tc := range []struct {
		log  string
		want bool
	}{
		{"PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.8.0.1,protocol-flags cc-exit tls-ekm dyn-tls-crypt aead-epoch,peer-id 0,cipher AES-256-GCM'", true},
		{"PUSH: Received control message: 'PUSH_REPLY,protocol-flags cc-exit tls-ekm,peer-id 0,cipher AES-256-GCM'", false},
		{"PUSH: Received control message: 'PUSH_REPLY,protocol-flags tls-ekm,peer-id 0'\nsome aead-epoch text", false},
	} {
		if got := rePushEpoch.MatchString(tc.log); got != tc.want {
			t.Errorf("%q: epoch = %v, want %v", tc.log, got, tc.want)
		}
	}
	p := pairStat{keys: map[string]bool{"classic": true, "epoch": true}}
	if got := p.keyList(); got != "epoch+classic" {
		t.Errorf("keyList = %q, want epoch+classic", got)
	}
}
