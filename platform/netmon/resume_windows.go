package netmon

import (
	"context"
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

// PowerRegisterSuspendResumeNotification (powrprof.dll, Windows 8 and
// later) with DEVICE_NOTIFY_CALLBACK calls back with the PBT_* power event
// types; no window or message loop is needed.
const (
	deviceNotifyCallback  = 2
	pbtAPMSuspend         = 0x4
	pbtAPMResumeAutomatic = 0x12
)

// deviceNotifySubscribeParameters is DEVICE_NOTIFY_SUBSCRIBE_PARAMETERS.
type deviceNotifySubscribeParameters struct {
	callback uintptr
	context  uintptr
}

// watchResume reports PBT_APMRESUMEAUTOMATIC (sent on every resume, with
// or without a user) until ctx is done. Each call takes one of the
// process's Go callback slots for good (windows.NewCallback), which is
// fine for a monitor run once per daemon or session.
func (m *Monitor) watchResume(ctx context.Context) {
	dll := windows.NewLazySystemDLL("powrprof.dll")
	register := dll.NewProc("PowerRegisterSuspendResumeNotification")
	unregister := dll.NewProc("PowerUnregisterSuspendResumeNotification")
	if err := register.Find(); err != nil {
		m.log.Debug("netmon: no suspend/resume notifications; resume detected by the clock only", "err", err)
		return
	}
	types := make(chan uintptr, 8)
	params := &deviceNotifySubscribeParameters{callback: windows.NewCallback(func(_, typ, _ uintptr) uintptr {
		select {
		case types <- typ:
		default: // a resume already queued says enough
		}
		return 0
	})}
	// Windows keeps the parameters for the registration's lifetime.
	var pin runtime.Pinner
	pin.Pin(params)
	defer pin.Unpin()
	var handle uintptr
	r, _, _ := register.Call(deviceNotifyCallback, uintptr(unsafe.Pointer(params)), uintptr(unsafe.Pointer(&handle)))
	if r != 0 {
		m.log.Debug("netmon: PowerRegisterSuspendResumeNotification failed; resume detected by the clock only", "err", windows.Errno(r))
		return
	}
	defer func() {
		if r, _, _ := unregister.Call(handle); r != 0 {
			m.log.Warn("netmon: PowerUnregisterSuspendResumeNotification failed", "err", windows.Errno(r))
			return
		}
		m.log.Debug("netmon: suspend/resume notifications stopped")
	}()
	m.log.Debug("netmon: listening for suspend/resume notifications")
	for {
		select {
		case <-ctx.Done():
			return
		case typ := <-types:
			switch typ {
			case pbtAPMSuspend:
				m.send(ctx, event{kind: evSleep})
			case pbtAPMResumeAutomatic:
				m.send(ctx, event{kind: evResume, detail: "resumed from sleep (PBT_APMRESUMEAUTOMATIC)"})
			}
		}
	}
}
