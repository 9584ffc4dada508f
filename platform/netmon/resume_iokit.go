package netmon

// IOKit system power messages (IOKit/IOMessage.h): iokit_common_msg(n) is
// sys_iokit (0xe0000000) | sub_iokit_common (0) | n.
const (
	iokitMsgCanSystemSleep     = 0xe0000270 // kIOMessageCanSystemSleep
	iokitMsgSystemWillSleep    = 0xe0000280 // kIOMessageSystemWillSleep
	iokitMsgSystemWillNotSleep = 0xe0000290 // kIOMessageSystemWillNotSleep
	iokitMsgSystemHasPoweredOn = 0xe0000300 // kIOMessageSystemHasPoweredOn
	iokitMsgSystemWillPowerOn  = 0xe0000320 // kIOMessageSystemWillPowerOn
	iokitResumeDetail          = "resumed from sleep (IOKit)"
)

// iokitPower is what a system power message asks of watchResume: an event
// to report (send), and whether the message must be acknowledged with
// IOAllowPowerChange (the system waits up to 30 s for an answer to
// WillSleep and CanSystemSleep otherwise).
type iokitPower struct {
	send  bool
	ev    event
	allow bool
}

// iokitPowerAction maps an IOKit system power message (the messageType of
// IORegisterForSystemPower's callback) to what watchResume does with it.
// Idle-sleep queries (CanSystemSleep) are allowed without an event: cvpn
// never vetoes sleep. WillPowerOn comes before devices are up and
// WillNotSleep after a vetoed query; both are ignored, as is anything else.
// The message is a 32-bit natural_t: only the low 32 bits of the callback's
// argument register count.
func iokitPowerAction(msg uint64) iokitPower {
	switch uint32(msg) {
	case iokitMsgSystemWillSleep:
		return iokitPower{send: true, ev: event{kind: evSleep}, allow: true}
	case iokitMsgCanSystemSleep:
		return iokitPower{allow: true}
	case iokitMsgSystemHasPoweredOn:
		return iokitPower{send: true, ev: event{kind: evResume, detail: iokitResumeDetail}}
	}
	return iokitPower{}
}
