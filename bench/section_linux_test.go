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
