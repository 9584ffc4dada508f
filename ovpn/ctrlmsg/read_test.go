package ctrlmsg

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	long := strings.Repeat("x", 5000) // longer than the reader's buffer
	br := bufio.NewReaderSize(strings.NewReader("PUSH_REQUEST\x00"+long+"\x00tail"), 16)
	if m, err := ReadMessage(br); err != nil || m != "PUSH_REQUEST" {
		t.Fatalf("first = %q, %v", m, err)
	}
	if m, err := ReadMessage(br); err != nil || m != long {
		t.Fatalf("second: %d bytes, %v", len(m), err)
	}
	if _, err := ReadMessage(br); err != io.EOF {
		t.Fatalf("unterminated tail: err = %v, want EOF", err)
	}
	huge := bufio.NewReader(strings.NewReader(strings.Repeat("y", MaxMessage+10) + "\x00"))
	if _, err := ReadMessage(huge); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("oversize message: err = %v", err)
	}
}
