package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MaxFrame is the largest packet the 2-byte TCP length prefix can describe.
const MaxFrame = 0xffff

// AppendFrame appends pkt with its 2-byte big-endian length prefix (TCP).
func AppendFrame(dst, pkt []byte) ([]byte, error) {
	if len(pkt) > MaxFrame {
		return dst, fmt.Errorf("wire: packet of %d bytes does not fit a TCP frame (max %d)", len(pkt), MaxFrame)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pkt)))
	return append(dst, pkt...), nil
}

// WriteFrame writes pkt with its length prefix in one Write call.
func WriteFrame(w io.Writer, pkt []byte) error {
	buf, err := AppendFrame(make([]byte, 0, 2+len(pkt)), pkt)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// FrameReader reads length-prefixed packets from a TCP stream. Callers
// should wrap the connection in a bufio.Reader for efficiency.
type FrameReader struct {
	r   io.Reader
	max int
	buf []byte
}

// NewFrameReader returns a reader that rejects frames larger than max bytes
// (MaxFrame when max <= 0 or larger).
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	return &FrameReader{r: r, max: max, buf: make([]byte, max)}
}

// ReadFrame returns the next packet. The slice is valid until the next
// call. A zero-length frame, or one longer than the maximum, is an error.
// io.EOF is returned only on a clean end between frames.
func (f *FrameReader) ReadFrame() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("wire: stream ended inside a frame length prefix: %w", err)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, fmt.Errorf("wire: zero-length TCP frame")
	}
	if n > f.max {
		return nil, fmt.Errorf("wire: TCP frame of %d bytes exceeds the maximum %d", n, f.max)
	}
	if _, err := io.ReadFull(f.r, f.buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("wire: reading %d-byte TCP frame: %w", n, err)
	}
	return f.buf[:n], nil
}
