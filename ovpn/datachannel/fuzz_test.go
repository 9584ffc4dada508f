package datachannel

import (
	"bytes"
	"testing"
)

func fuzzOpen(f *testing.F, s suite) {
	cli, _ := pair(f, s, true, nil)
	for _, n := range []int{0, 1, 16, 100} {
		p, _ := cli.Seal(nil, payload(n))
		f.Add(p)
	}
	cliV1, _ := pair(f, s, false, nil)
	p, _ := cliV1.Seal(nil, payload(33))
	f.Add(p)
	f.Add([]byte{})
	f.Add([]byte{OpDataV2<<3 | 2})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, srv := pair(t, s, true, nil)
		orig := append([]byte(nil), pkt...)
		out, err := srv.Open([]byte("keep"), pkt)
		if !bytes.Equal(pkt, orig) {
			t.Fatal("Open modified its input")
		}
		if string(out[:4]) != "keep" {
			t.Fatal("Open clobbered dst")
		}
		if err != nil && len(out) != 4 {
			t.Fatalf("error %v but dst grew to %d", err, len(out))
		}
		if err == nil {
			// An accepted packet must be a replay the second time.
			if _, err2 := srv.Open(nil, pkt); err2 == nil {
				t.Fatal("same packet accepted twice")
			}
		}
	})
}

func FuzzOpenAEAD(f *testing.F) { fuzzOpen(f, suite{CipherAES256GCM, AuthNone}) }

func FuzzOpenCBC(f *testing.F) { fuzzOpen(f, suite{CipherAES256CBC, AuthSHA256}) }
