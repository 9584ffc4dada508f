package ipc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/ipc/namedpipe"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
)

// TestOSPipeRefusesSquatter: a pipe of the daemon's name owned by an
// ordinary user (a program that took the name before the daemon started)
// is refused by front ends before they send anything; the daemon's own
// pipe (owner Administrators, PipeSDDL) is accepted.
func TestOSPipeRefusesSquatter(t *testing.T) {
	osinteg.Require(t, "TestOSPipeRefusesSquatter (named pipe owned by a non-administrator refused)")
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf(`\\.\pipe\cvpn-squat-%d-%d`, os.Getpid(), time.Now().UnixNano())
	sd, err := windows.SecurityDescriptorFromString("O:" + u.User.Sid.String() + "D:(A;;GA;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	l, err := (&namedpipe.ListenConfig{SecurityDescriptor: sd}).Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, path)
	if err == nil {
		c.Close()
		t.Fatalf("dial accepted a pipe owned by %s", u.User.Sid)
	}
	if !strings.Contains(err.Error(), "not by SYSTEM or Administrators") {
		t.Fatalf("dial: %v, want the owner refusal", err)
	}
}
