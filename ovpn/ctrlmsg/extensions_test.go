package ctrlmsg

import (
	"errors"
	"strings"
	"testing"
)

func TestExtensionsRoundTrip(t *testing.T) {
	x := Extensions{Banner: "Authorised use only, 日本語 OK: see https://intra.example/policy", RouteEnforcement: true}
	var echo []string
	for _, o := range x.EchoOptions() {
		if strings.Contains(o, ",") {
			t.Fatalf("pushed option %q contains a comma", o)
		}
		echo = append(echo, strings.TrimPrefix(o, "echo "))
	}
	got, err := ParseExtensions(echo)
	if err != nil || got != x {
		t.Fatalf("got %+v, %v, want %+v", got, err, x)
	}
	got, err = ParseExtensions([]string{"cvpn-banner-b64 !!!", "cvpn-route-enforcement off"})
	if got != (Extensions{}) || !errors.Is(err, ErrBadBanner) {
		t.Fatalf("bad banner/off switch gave %+v, %v", got, err)
	}
	got, err = ParseExtensions([]string{"cvpn-banner-b64 !!!", "cvpn-route-enforcement on", "msg-window hello"})
	if got != (Extensions{RouteEnforcement: true}) || !errors.Is(err, ErrBadBanner) {
		t.Fatalf("a bad banner must not hide the other extensions: got %+v, %v", got, err)
	}
}
