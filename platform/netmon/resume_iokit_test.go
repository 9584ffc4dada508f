package netmon

import "testing"

// TestIOKitPowerAction: each IOKit system power message becomes what the
// session needs: WillSleep reports a sleep and is acknowledged (so macOS
// does not wait 30 s for cvpn), CanSystemSleep is acknowledged without an
// event (cvpn never vetoes an idle sleep), HasPoweredOn reports a resume
// naming IOKit, and the early WillPowerOn, WillNotSleep and unrelated
// messages do nothing.
func TestIOKitPowerAction(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  uint64
		want iokitPower
	}{
		{"SystemWillSleep", 0xe0000280, iokitPower{send: true, ev: event{kind: evSleep}, allow: true}},
		{"CanSystemSleep", 0xe0000270, iokitPower{allow: true}},
		{"SystemHasPoweredOn", 0xe0000300, iokitPower{send: true, ev: event{kind: evResume, detail: "resumed from sleep (IOKit)"}}},
		{"SystemWillPowerOn", iokitMsgSystemWillPowerOn, iokitPower{}},
		{"SystemWillNotSleep", iokitMsgSystemWillNotSleep, iokitPower{}},
		{"CanSystemPowerOff", 0xe0000240, iokitPower{}},
		{"SystemWillRestart", 0xe0000310, iokitPower{}},
		{"zero", 0, iokitPower{}},
		// Only the low 32 bits are the message (natural_t): the callback's
		// argument register may carry anything above them.
		{"WillSleep in the low bits only", 0xdead_0000_e000_0280, iokitPower{send: true, ev: event{kind: evSleep}, allow: true}},
	} {
		if got := iokitPowerAction(tc.msg); got != tc.want {
			t.Errorf("%s (%#x): got %+v, want %+v", tc.name, tc.msg, got, tc.want)
		}
	}
}
