package netmon

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// IOKit's system power notifications (IORegisterForSystemPower) are
// delivered through a CFRunLoop; purego calls IOKit and CoreFoundation and
// makes the C callback without cgo (cvpn is built with CGO_ENABLED=0).
const (
	iokitFramework          = "/System/Library/Frameworks/IOKit.framework/IOKit"
	coreFoundationFramework = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
	// cfRunLoopRunFinished is kCFRunLoopRunFinished: the mode has no
	// sources or timers left.
	cfRunLoopRunFinished = 1
	// cfRunLoopSlice bounds one CFRunLoopRunInMode, in seconds: a stop
	// that comes before the loop runs is seen within it.
	cfRunLoopSlice = 1.0
)

// iokitPowerAPI is the part of IOKit and CoreFoundation watchResume calls.
// Ports (io_connect_t, io_object_t) are 32-bit mach_port_t; references
// (IONotificationPortRef, CFRunLoopRef, ...) are pointers kept as uintptr:
// they point to C memory.
type iokitPowerAPI struct {
	registerForSystemPower   func(refcon uintptr, port *uintptr, callback uintptr, notifier *uint32) uint32
	deregisterForSystemPower func(notifier *uint32) int32
	allowPowerChange         func(root uint32, notificationID uintptr) int32
	serviceClose             func(root uint32) int32
	portGetRunLoopSource     func(port uintptr) uintptr
	portDestroy              func(port uintptr)
	runLoopGetCurrent        func() uintptr
	runLoopAddSource         func(rl, source, mode uintptr)
	runLoopRemoveSource      func(rl, source, mode uintptr)
	runLoopRunInMode         func(mode uintptr, seconds float64, returnAfterSourceHandled bool) int32
	runLoopStop              func(rl uintptr)
	defaultMode              uintptr // kCFRunLoopDefaultMode, a CFStringRef
}

// loadIOKitPower opens the two frameworks and binds the functions. A
// missing library or symbol is an error, never a panic.
func loadIOKitPower() (api *iokitPowerAPI, err error) {
	defer func() {
		if r := recover(); r != nil {
			api, err = nil, fmt.Errorf("bind IOKit/CoreFoundation: %v", r)
		}
	}()
	iokit, err := purego.Dlopen(iokitFramework, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("dlopen %s: %w", iokitFramework, err)
	}
	cf, err := purego.Dlopen(coreFoundationFramework, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("dlopen %s: %w", coreFoundationFramework, err)
	}
	a := &iokitPowerAPI{}
	for _, b := range []struct {
		lib  uintptr
		name string
		fn   any
	}{
		{iokit, "IORegisterForSystemPower", &a.registerForSystemPower},
		{iokit, "IODeregisterForSystemPower", &a.deregisterForSystemPower},
		{iokit, "IOAllowPowerChange", &a.allowPowerChange},
		{iokit, "IOServiceClose", &a.serviceClose},
		{iokit, "IONotificationPortGetRunLoopSource", &a.portGetRunLoopSource},
		{iokit, "IONotificationPortDestroy", &a.portDestroy},
		{cf, "CFRunLoopGetCurrent", &a.runLoopGetCurrent},
		{cf, "CFRunLoopAddSource", &a.runLoopAddSource},
		{cf, "CFRunLoopRemoveSource", &a.runLoopRemoveSource},
		{cf, "CFRunLoopRunInMode", &a.runLoopRunInMode},
		{cf, "CFRunLoopStop", &a.runLoopStop},
	} {
		sym, err := purego.Dlsym(b.lib, b.name)
		if err != nil {
			return nil, fmt.Errorf("dlsym %s: %w", b.name, err)
		}
		purego.RegisterFunc(b.fn, sym)
	}
	// kCFRunLoopDefaultMode is a global CFStringRef: the symbol is its
	// address.
	sym, err := purego.Dlsym(cf, "kCFRunLoopDefaultMode")
	if err != nil {
		return nil, fmt.Errorf("dlsym kCFRunLoopDefaultMode: %w", err)
	}
	a.defaultMode = **(**uintptr)(unsafe.Pointer(&sym))
	if a.defaultMode == 0 {
		return nil, fmt.Errorf("kCFRunLoopDefaultMode is NULL")
	}
	return a, nil
}

// newIOKitCallback makes the C function pointer of an
// IOServiceInterestCallback(refcon, service, messageType, messageArgument).
// purego keeps at most 2000 callbacks per process, for good; running out is
// an error here, not a panic.
func newIOKitCallback(fn func(refcon, service, msg, arg uintptr)) (cb uintptr, err error) {
	defer func() {
		if r := recover(); r != nil {
			cb, err = 0, fmt.Errorf("purego.NewCallback: %v", r)
		}
	}()
	return purego.NewCallback(fn), nil
}

// watchResume reports kIOMessageSystemWillSleep (as a sleep) and
// kIOMessageSystemHasPoweredOn (as a resume) from IORegisterForSystemPower
// until ctx is done, acknowledging sleep at once (IOAllowPowerChange). The
// CFRunLoop runs on this goroutine, locked to its thread; a helper
// goroutine it owns hands events to the monitor and stops the run loop when
// ctx ends. Each call takes one of the process's purego callback slots for
// good, which is fine for a monitor run once per daemon or session. Any
// failure is logged and leaves the clock-jump check as the only source.
func (m *Monitor) watchResume(ctx context.Context) {
	api, err := loadIOKitPower()
	if err != nil {
		m.log.Debug("netmon: no IOKit power notifications; resume detected by the clock only", "err", err)
		return
	}
	// The run loop belongs to this thread. The thread is never unlocked:
	// it ends with the goroutine, run loop state and all, so no other
	// goroutine inherits a stopped run loop.
	runtime.LockOSThread()

	evs := make(chan event, 8)
	var root uint32 // set before the run loop can call back
	cb, err := newIOKitCallback(func(_, _, msg, arg uintptr) {
		a := iokitPowerAction(uint64(msg))
		if a.send {
			select {
			case evs <- a.ev:
			default: // the monitor is far behind; an older event is queued
				m.log.Warn("netmon: IOKit power event dropped, queue full")
			}
		}
		if a.allow {
			if r := api.allowPowerChange(root, arg); r != 0 {
				m.log.Warn("netmon: IOAllowPowerChange failed", "ret", fmt.Sprintf("%#x", uint32(r)))
			}
		}
	})
	if err != nil {
		m.log.Debug("netmon: no IOKit power notifications; resume detected by the clock only", "err", err)
		return
	}
	var (
		port     uintptr
		notifier uint32
	)
	root = api.registerForSystemPower(0, &port, cb, &notifier)
	if root == 0 {
		m.log.Debug("netmon: IORegisterForSystemPower failed; resume detected by the clock only")
		return
	}
	rl := api.runLoopGetCurrent()
	source := api.portGetRunLoopSource(port)
	api.runLoopAddSource(rl, source, api.defaultMode)
	defer func() {
		api.runLoopRemoveSource(rl, source, api.defaultMode)
		r := api.deregisterForSystemPower(&notifier)
		if c := api.serviceClose(root); r == 0 && c != 0 {
			r = c
		}
		api.portDestroy(port) // also frees the run loop source
		if r != 0 {
			m.log.Warn("netmon: IODeregisterForSystemPower/IOServiceClose failed", "ret", fmt.Sprintf("%#x", uint32(r)))
			return
		}
		m.log.Debug("netmon: suspend/resume notifications stopped", "source", "IOKit")
	}()

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				api.runLoopStop(rl) // CFRunLoopStop is safe from another thread
				return
			case e := <-evs:
				m.send(runCtx, e)
			}
		}
	})
	// The helper is stopped before the deferred cleanup (defers run last
	// in, first out).
	defer wg.Wait()
	defer cancel()

	m.log.Debug("netmon: listening for suspend/resume notifications", "source", "IOKit")
	for runCtx.Err() == nil {
		if api.runLoopRunInMode(api.defaultMode, cfRunLoopSlice, false) == cfRunLoopRunFinished {
			m.log.Warn("netmon: IOKit run loop has no source left; resume detected by the clock only")
			return
		}
	}
}
