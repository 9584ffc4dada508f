package transport

import (
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawStream reads and writes a TCP socket with raw read(2) and write(2)
// inside its RawConn callbacks: the socket is non-blocking and the
// runtime's poller does the waiting (deadlines included), while a normal
// system call would wake the Go runtime's monitor thread after every idle
// moment (see recv in udp_linux.go).
type rawStream struct {
	c  net.Conn
	rc syscall.RawConn
}

// streamIO returns the reader and writer Stream uses for c.
func streamIO(c net.Conn) (io.Reader, io.Writer) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, c
	}
	r := &rawStream{c: c, rc: rc}
	return r, r
}

func (r *rawStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case 0:
				n = int(m)
				return true
			case unix.EAGAIN:
				return false
			case unix.EINTR:
				continue
			}
			errno = e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawStream) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(m)
			case unix.EAGAIN:
				return false // the socket buffer is full: wait
			case unix.EINTR:
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	if errno != 0 {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(), Err: errno}
	}
	return n, nil
}
