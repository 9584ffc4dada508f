package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/app/gui/assets"
	"github.com/cvpn/cvpn/packaging/iconfmt"
)

func main() {
	out := flag.String("out", "", "write the icon files into `DIR` (created when missing)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkicons -out DIR")
		os.Exit(2)
	}
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkicons:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pngs := map[int][]byte{}
	for _, n := range []int{16, 32, 48, 64, 128, 256, 512, 1024} {
		p, err := assets.PNG(assets.ToneBrand, n)
		if err != nil {
			return fmt.Errorf("render %dx%d: %w", n, n, err)
		}
		pngs[n] = p
	}
	icns, err := iconfmt.ICNS(pngs[16], pngs[32], pngs[64], pngs[128], pngs[256], pngs[512], pngs[1024])
	if err != nil {
		return err
	}
	ico, err := iconfmt.ICO(pngs[16], pngs[32], pngs[48], pngs[64], pngs[128], pngs[256])
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"io.github.cvpn.svg":     assets.SVG(assets.ToneBrand),
		"io.github.cvpn-256.png": pngs[256],
		"cvpn.icns":              icns,
		"cvpn.ico":               ico,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
