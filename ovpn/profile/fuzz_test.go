package profile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// addCorpus seeds f with every profile of testdata/profiles; go test adds
// the "go test fuzz v1" files of testdata/fuzz/FuzzParse itself.
func addCorpus(f *testing.F) {
	for _, pat := range []string{"good/*.ovpn", "bad/*.ovpn"} {
		files, _ := filepath.Glob(filepath.Join(profilesDir, pat))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzParse checks that Parse never panics on any input, and that a usable
// profile survives Serialize and a second Parse.
func FuzzParse(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, ds := Parse(data, Options{Name: "fuzz", NoFiles: true, Now: testNow})
		if p == nil {
			t.Fatal("nil profile")
		}
		for _, d := range ds {
			if d.Line < 1 {
				t.Fatalf("diagnostic without a line: %s", d)
			}
		}
		_ = p.Summary()
		if ds.HasErrors() {
			return
		}
		out := Serialize(p)
		q, ds2 := Parse(out, Options{Name: "fuzz2", NoFiles: true, Now: testNow})
		if ds2.HasErrors() {
			t.Fatalf("serialized profile does not parse:\n%s\ninput:\n%q\noutput:\n%q", ds2, data, out)
		}
		if again := Serialize(q); !bytes.Equal(again, out) {
			t.Fatalf("serialize not stable:\n%q\n%q", out, again)
		}
	})
}
