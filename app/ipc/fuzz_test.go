package ipc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the daemon's request decoder: it
// must never panic, must stop at the end of input, and every message it
// accepts carries this protocol version and a type.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"status"}` + "\n"))
	f.Add([]byte(`{"v":1,"type":"connect","name":"work","profile":"client\n"}` + "\n" + `{"v":2,"type":"x"}` + "\n"))
	f.Add([]byte(`{"v":1,"type":"credentials-answer","id":3,"user":"a","password":"b"}`))
	f.Add([]byte("{\n}\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newDecoder(bytes.NewReader(data), "fuzz")
		for i := 0; i <= strings.Count(string(data), "\n")+1; i++ {
			m, err := d.read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err == nil && (m.V != Version || m.Type == "") {
				t.Fatalf("accepted %+v", m)
			}
		}
	})
}
