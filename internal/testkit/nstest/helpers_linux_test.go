package nstest

import (
	"regexp"
	"testing"
)

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func TestDropTransientErrors(t *testing.T) {
	in := "1: lo: <LOOPBACK>\nError: Peer netns reference is invalid.\n2: eth0@if2: <UP>\n"
	if got := dropTransientErrors(in); got != "1: lo: <LOOPBACK>\n2: eth0@if2: <UP>\n" {
		t.Fatalf("got %q", got)
	}
	if got := dropTransientErrors("Error: something else\n"); got != "Error: something else\n" {
		t.Fatalf("other errors must stay: %q", got)
	}
}
