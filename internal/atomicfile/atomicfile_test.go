package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// leftovers lists the files in dir other than the ones named.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
next:
	for _, e := range ents {
		for _, k := range keep {
			if e.Name() == k {
				continue next
			}
		}
		out = append(out, e.Name())
	}
	return out
}

func TestWriteContentAndMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644, 0o755} {
		dir := t.TempDir()
		p := filepath.Join(dir, "f.conf")
		if err := Write(p, []byte("hello\n"), Options{Mode: mode, Sync: true, SyncDir: true}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != "hello\n" {
			t.Fatalf("content %q, %v", got, err)
		}
		fi, _ := os.Stat(p)
		if runtime.GOOS != "windows" && fi.Mode().Perm() != mode {
			t.Errorf("mode %v, want %v (the umask must not narrow it)", fi.Mode().Perm(), mode)
		}
		if l := leftovers(t, dir, "f.conf"); len(l) != 0 {
			t.Errorf("left behind: %v", l)
		}
	}
}

func TestWriteReplacesExisting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := os.WriteFile(p, []byte("old content that is longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), Options{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(got) != "new" {
		t.Fatalf("content %q, want %q", got, "new")
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// Every step that fails leaves the old file as it was and no temporary
// file behind.
func TestWriteFailureKeepsOldAndCleansUp(t *testing.T) {
	injected := errors.New("injected")
	for _, op := range []string{OpChmod, OpWrite, OpSync, OpClose, OpRename} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "routes.json")
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			o := Options{Mode: 0o600, Sync: true, fail: func(s string) error {
				if s == op {
					return injected
				}
				return nil
			}}
			err := Write(p, []byte("new content"), o)
			var e *Error
			if !errors.Is(err, injected) || !errors.As(err, &e) || e.Op != op {
				t.Fatalf("err %v, want the injected failure at %s", err, op)
			}
			if got, _ := os.ReadFile(p); string(got) != "old" {
				t.Errorf("after a failed write the file holds %q, want the old content", got)
			}
			if l := leftovers(t, dir, "routes.json"); len(l) != 0 {
				t.Errorf("left behind: %v", l)
			}
		})
	}
}

// A real failure at the last step: the target is a non-empty directory.
func TestWriteRenameOntoDirectoryCleansUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(p, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := Write(p, []byte("x"), Options{Mode: 0o600, TempPattern: ".t-*"})
	var e *Error
	if !errors.As(err, &e) || e.Op != OpRename {
		t.Fatalf("err %v, want a rename failure", err)
	}
	if l := leftovers(t, dir, "target"); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing", "f")
	err := Write(p, []byte("x"), Options{})
	var e *Error
	if !errors.As(err, &e) || e.Op != OpCreate || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err %v, want a create failure matching fs.ErrNotExist", err)
	}
}

func TestWriteNoReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "work.ovpn")
	if err := Write(p, []byte("first"), Options{NoReplace: true, SyncDir: true}); err != nil {
		t.Fatal(err)
	}
	err := Write(p, []byte("second"), Options{NoReplace: true})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "first" {
		t.Errorf("content %q, want the first write kept", got)
	}
	if l := leftovers(t, dir, "work.ovpn"); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}
}

// A reader racing the writer sees the old or the new content, never a
// part of either.
func TestReaderNeverSeesPartialFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 1<<20)
	if err := Write(p, a, Options{}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var bad []int
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := os.ReadFile(p)
			if err == nil && !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				bad = append(bad, len(got))
			}
		}
	}()
	for i := range 40 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := Write(p, data, Options{}); err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("reader saw %d partial files (sizes %v)", len(bad), bad[:min(len(bad), 5)])
	}
}
