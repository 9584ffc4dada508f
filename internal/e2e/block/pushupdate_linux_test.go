package block

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSplitBlockFollowsPushUpdate: a split-tunnel block-when-down widens
// when the server adds a VPN prefix by PUSH_UPDATE (`cvpn server
// push-update`): the new prefix is in cvpn's nft table (192.0.2.0 as a
// rule's data) and a blocked event names both prefixes; redirect-gateway
// turns it into a full block.
func TestSplitBlockFollowsPushUpdate(t *testing.T) {
	s := newSetup(t, true)
	p := s.start(t, "--block-when-down")
	waitFor(t, p, `"state":"connected"`)
	waitFor(t, p, `"detail":"split"`)
	if r := ruleset(t, s.lab.Client); strings.Contains(r, "Data:[192 0 2 0]") {
		t.Fatalf("192.0.2.0/24 in the ruleset before the update:\n%s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.bin, "server", "connections", "--config", s.cfg).CombinedOutput()
	id := regexp.MustCompile(`cvpn-connection-[0-9a-f]+`).FindString(string(out))
	if err != nil || id == "" {
		t.Fatalf("server connections: %v\n%s", err, out)
	}
	push := func(opts ...string) {
		t.Helper()
		argv := append([]string{"server", "push-update", "--config", s.cfg, id, "--"}, opts...)
		if out, err := exec.CommandContext(ctx, s.bin, argv...).CombinedOutput(); err != nil {
			t.Fatalf("push-update %q: %v\n%s", opts, err, out)
		}
	}
	push("route 198.19.0.0 255.255.255.0", "route 192.0.2.0 255.255.255.0")
	waitFor(t, p, "traffic to the VPN's 2 prefixes is blocked outside the tunnel")
	if r := ruleset(t, s.lab.Client); !strings.Contains(r, "Data:[192 0 2 0]") {
		t.Errorf("the split block lacks the prefix the update added:\n%s", r)
	}
	push("redirect-gateway def1")
	waitFor(t, p, `"detail":"full"`)
	stop(t, p)
}
