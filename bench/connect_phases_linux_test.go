package bench

import (
	"strings"
	"testing"
	"time"
)

func TestConnectPhases(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	run := func(resolving, reset, tlsDone, configuring, connected float64) []stampedLine {
		return []stampedLine{
			{ms(resolving - 1), `time=... level=DEBUG msg="no system bus; systemd-resolved backend disabled"`},
			{ms(resolving), `{"event":"state","state":"resolving"}`},
			{ms(resolving + 0.1), `{"event":"state","state":"connecting"}`},
			{ms(reset), `time=... level=DEBUG msg="server answered hard reset" server=198.18.0.2:1194`},
			{ms(tlsDone), `time=... level=DEBUG msg="TLS established" version="TLS 1.3"`},
			{ms(configuring), `{"event":"state","state":"configuring"}`},
			{ms(connected), `{"event":"state","state":"connected","interface":"cvpn0"}`},
		}
	}
	got, err := connectPhases([][]stampedLine{
		run(20, 21, 26, 28, 29),
		run(22, 24, 28, 31, 33),
		run(21, 22.5, 27.5, 30, 31),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Medians per phase: start 21; reset 1, 2, 1.5 -> 1.5; TLS 5, 4, 5 -> 5;
	// key exchange 2, 3, 2.5 -> 2.5; tunnel 1, 2, 1 -> 1.
	want := []time.Duration{ms(21), ms(1.5), ms(5), ms(2.5), ms(1)}
	if len(got) != len(want) {
		t.Fatalf("got %d phases, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phase %q: got %v, want %v", connectMarks[i].phase, got[i], want[i])
		}
	}
	s := connectSection(3, []time.Duration{ms(33), ms(31), ms(32)}, []time.Duration{ms(30), ms(29), ms(31)},
		[]time.Duration{ms(18), ms(19), ms(20)}, []time.Duration{ms(16), ms(16), ms(17)}, ms(11), got)
	for _, line := range []string{
		"| cvpn | 32.0 | 19.0 | 13.0 |",
		"| openvpn 2.6 | 30.0 | 16.0 | 14.0 |",
		"takes 11.0 ms",
		"| TLS 1.3 handshake with client certificate | 5.0 |",
	} {
		if !strings.Contains(s, line) {
			t.Errorf("section lacks %q:\n%s", line, s)
		}
	}
}

func TestConnectPhasesMissingMark(t *testing.T) {
	tl := []stampedLine{
		{5 * time.Millisecond, `{"event":"state","state":"resolving"}`},
		{9 * time.Millisecond, `{"event":"state","state":"connected"}`},
	}
	_, err := connectPhases([][]stampedLine{tl})
	if err == nil || !strings.Contains(err.Error(), "server answered hard reset") {
		t.Fatalf("a timeline without the hard-reset line gave %v; want an error naming that line", err)
	}
}
