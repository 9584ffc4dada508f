package tlswrap

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

type fakeExporter struct {
	label string
	err   error
}

func (f *fakeExporter) ExportKeyingMaterial(label string, _ []byte, n int) ([]byte, error) {
	f.label = label
	if f.err != nil {
		return nil, f.err
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*11 + 1)
	}
	return b, nil
}

// Both ends derive the same renegotiation key from the exporter and the
// session's static key: the client's packets open at the server, and a
// key made without the static key (or with another) does not open them.
func TestDynamicTLSCrypt(t *testing.T) {
	clk := &fakeClock{time.Unix(1800000000, 0)}
	orig := testKey()
	e := &fakeExporter{}
	cl, err := NewDynamicTLSCrypt(e, orig[:], wire.RoleClient, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if e.label != "EXPORTER-OpenVPN-dynamic-tls-crypt" {
		t.Fatalf("exporter label %q", e.label)
	}
	srv, _ := NewDynamicTLSCrypt(&fakeExporter{}, orig[:], wire.RoleServer, clk.now)
	plain := plainPacket()
	pkt, err := cl.Wrap(nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := srv.Unwrap(bytes.Clone(pkt)); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("server unwrap: %v", err)
	}
	noOrig, _ := NewDynamicTLSCrypt(&fakeExporter{}, nil, wire.RoleServer, clk.now)
	if _, err := noOrig.Unwrap(bytes.Clone(pkt)); !errors.Is(err, ErrAuth) {
		t.Fatalf("key without the static key opened the packet: %v", err)
	}
	static, _ := NewTLSCrypt(orig, wire.RoleServer, clk.now)
	if _, err := static.Unwrap(bytes.Clone(pkt)); !errors.Is(err, ErrAuth) {
		t.Fatalf("the static key opened a dynamic tls-crypt packet: %v", err)
	}
	if _, err := NewDynamicTLSCrypt(&fakeExporter{err: errors.New("no EMS")}, nil, wire.RoleClient, nil); err == nil {
		t.Fatal("exporter failure ignored")
	}
	if _, err := NewDynamicTLSCrypt(&fakeExporter{}, orig[:10], wire.RoleClient, nil); err == nil {
		t.Fatal("short static key accepted")
	}
}
