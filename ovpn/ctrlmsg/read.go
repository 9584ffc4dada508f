package ctrlmsg

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// ReadMessage reads one NUL-terminated control message from a TLS session
// and returns it without the NUL. A message longer than MaxMessage is an
// error (a peer cannot make us buffer without bound).
func ReadMessage(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		frag, err := br.ReadSlice(0)
		if sb.Len()+len(frag) > MaxMessage {
			return "", fmt.Errorf("control message longer than %d bytes", MaxMessage)
		}
		sb.Write(frag)
		if err == nil {
			s := sb.String()
			return s[:len(s)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
}
