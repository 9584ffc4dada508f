package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "cvpn")
	os.MkdirAll(filepath.Join(src, "installer"), 0o755)
	os.WriteFile(filepath.Join(src, "cvpn.exe"), []byte("exe"), 0o755)
	os.WriteFile(filepath.Join(src, "installer", "cvpn.wxs"), []byte("<Wix/>"), 0o644)
	out := filepath.Join(dir, "out.zip")
	if err := write(out, src); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]string{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
		names = append(names, f.Name)
		if f.Name == "cvpn/cvpn.exe" && f.Mode().Perm() != 0o755 {
			t.Errorf("cvpn.exe mode %v, want 0755", f.Mode())
		}
	}
	if want := []string{"cvpn/cvpn.exe", "cvpn/installer/cvpn.wxs"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if got["cvpn/installer/cvpn.wxs"] != "<Wix/>" || got["cvpn/cvpn.exe"] != "exe" {
		t.Errorf("contents %q", got)
	}
}

func TestWriteRejectsSymlinkAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "cvpn")
	os.MkdirAll(src, 0o755)
	os.Symlink("/etc/hostname", filepath.Join(src, "link"))
	out := filepath.Join(dir, "out.zip")
	err := write(out, src)
	if err == nil || !strings.Contains(err.Error(), "link: only regular files and folders") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("half-written %s left behind: %v", out, err)
	}
}
