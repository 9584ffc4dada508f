package platform

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A resolv.conf bind-mounted over /etc/resolv.conf (ip netns exec, a
// container) cannot be renamed over; it is rewritten in place instead.
func TestResolvConfBindMountedRewrittenInPlace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a file")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "netns-resolv.conf")
	dst := filepath.Join(dir, "resolv.conf")
	for _, p := range []string{src, dst} {
		if err := os.WriteFile(p, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dst, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	want := "nameserver 10.0.0.2\n"
	if err := writeFileAtomic(dst, []byte(want), 0o644); err != nil {
		t.Fatalf("write over a bind mount: %v", err)
	}
	for _, p := range []string{dst, src} {
		if got, _ := os.ReadFile(p); string(got) != want {
			t.Errorf("%s holds %q, want %q", filepath.Base(p), got, want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files in the folder: %v, want only the two resolv.conf files", names)
	}
}
