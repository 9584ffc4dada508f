//go:build !linux

package transport

import (
	"io"
	"net"
)

// streamIO returns the reader and writer Stream uses for c: c itself.
func streamIO(c net.Conn) (io.Reader, io.Writer) { return c, c }
