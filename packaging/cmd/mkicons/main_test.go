package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteIcons(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "icons")
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(read("io.github.cvpn-256.png")))
	if err != nil || cfg.Width != 256 || cfg.Height != 256 {
		t.Errorf("256 PNG: %v %dx%d", err, cfg.Width, cfg.Height)
	}
	if svg := read("io.github.cvpn.svg"); !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("SVG does not start an <svg> element")
	}
	if icns := read("cvpn.icns"); string(icns[:4]) != "icns" || !bytes.Contains(icns, []byte("ic10")) {
		t.Errorf("icns header %q, or no 1024 px element", icns[:4])
	}
	if ico := read("cvpn.ico"); !bytes.Equal(ico[:6], []byte{0, 0, 1, 0, 6, 0}) {
		t.Errorf("ico header % x, want 6 images", ico[:6])
	}
}
