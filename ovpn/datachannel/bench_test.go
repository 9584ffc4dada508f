package datachannel

import (
	"testing"

	"github.com/cvpn/cvpn/ovpn/wire"
)

var benchSuites = []suite{
	{CipherAES128GCM, AuthNone}, {CipherAES256GCM, AuthNone}, {CipherChaCha20Poly1305, AuthNone},
	{CipherAES256CBC, AuthSHA256}, {CipherAES256CBC, AuthSHA1},
}

func BenchmarkSeal(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(s.String(), func(b *testing.B) {
			cli, _ := pair(b, s, true, nil)
			p := payload(1400)
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i&0xFFFFFF == 0xFFFFFF {
					cli.setSendPID(0)
				}
				var err error
				if buf, err = cli.Seal(buf[:0], p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(s.String(), func(b *testing.B) {
			kb := testBlock()
			cli, _ := pair(b, s, true, nil)
			p := payload(1400)
			// Pre-seal a ring of packets; a fresh receiver per ring pass
			// keeps the replay window from rejecting repeats.
			const ring = 1024
			pkts := make([][]byte, ring)
			for i := range pkts {
				pkts[i], _ = cli.Seal(nil, p)
			}
			newSrv := func() *Key {
				k, err := NewKey(kb, Config{Cipher: s.c, Auth: s.a, Role: wire.RoleServer, KeyID: 2, DataV2: true, PeerID: 0xABCDEF})
				if err != nil {
					b.Fatal(err)
				}
				return k
			}
			srv := newSrv()
			out := make([]byte, 0, 2048)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%ring == 0 && i > 0 {
					b.StopTimer()
					srv.replay = ReplayWindow{Backtrack: DefaultBacktrack}
					b.StartTimer()
				}
				var err error
				if out, err = srv.Open(out[:0], pkts[i%ring]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
