//go:build !cgo

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cvpn-xvfbshot: built without cgo; the desktop window needs fyne's OpenGL driver (CGO_ENABLED=1)")
	os.Exit(2)
}
