package gui

// This file follows the backend: the event stream, status polls, losing and
// regaining the cvpn service, and applying events to the model.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

func (u *UI) runInbox() {
	for {
		select {
		case fn := <-u.inbox:
			fyne.Do(fn)
		case <-u.ctx.Done():
			return
		}
	}
}

// errServiceLost is why the UI stops following when the event stream of
// the cvpn service ends.
var errServiceLost = lostError{}

type lostError struct{}

func (lostError) Error() string {
	return "the connection to the cvpn daemon was lost: it stopped or restarted"
}
func (lostError) Is(target error) bool { return target == ErrDaemonNotRunning }

// follow subscribes to events and polls status until Stop. When the
// service goes away it marks every open connection unknown at once, then
// tries again after RetryMin, doubling the wait up to RetryMax, and
// resynchronises from a status snapshot when the service is back. Its UI
// work runs on the main goroutine through the inbox, in order.
func (u *UI) follow() {
	wait := u.opts.RetryMin
	up := true // the service is assumed up until a call says otherwise
	for {
		err := u.followOnce(func() { wait, up = u.opts.RetryMin, true })
		if u.ctx.Err() != nil {
			return
		}
		if up {
			u.log.Info("cvpn service unavailable", "err", err)
		} else {
			u.log.Debug("cvpn service still unavailable", "err", err, "retry_in", wait)
		}
		lost := up
		up = false
		u.post(u.ctx, func() { u.serviceLost(err, lost) })
		t := time.NewTimer(wait)
		select {
		case <-u.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, u.opts.RetryMax)
	}
}

// followOnce subscribes, applies a status snapshot (calling connected
// first), and pumps events until the stream ends; it returns why.
func (u *UI) followOnce(connected func()) error {
	events, err := u.b.Events(u.ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.RequestTimeout)
	asked := u.requests.Load()
	list, err := u.b.Status(ctx)
	cancel()
	if err != nil {
		return err
	}
	connected()
	u.post(u.ctx, func() {
		u.serviceBack()
		u.applyStatus(asked, list)
		if !u.firstSync {
			u.firstSync = true
			u.connectManaged()
		}
		if u.loginPending {
			u.loginPending = false
			u.connectAtLogin()
		}
	})
	return u.pump(events)
}

// pump applies events until the stream ends; it polls status on a ticker.
func (u *UI) pump(events <-chan ConnEvent) error {
	t := time.NewTicker(u.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return u.ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return errServiceLost
			}
			u.post(u.ctx, func() { u.handleEvent(ev) })
		case <-t.C:
			u.pollOnce()
		}
	}
}

func (u *UI) pollOnce() {
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.RequestTimeout)
	asked := u.requests.Load()
	list, err := u.b.Status(ctx)
	cancel()
	if err != nil {
		if u.ctx.Err() == nil {
			u.log.Debug("status failed", "err", err)
		}
		return
	}
	u.post(u.ctx, func() { u.applyStatus(asked, list) })
}

// serviceLost shows that the service cannot be reached (main goroutine).
// With lost (the first failure after it was up) every connection that was
// not disconnected turns unknown, says so in its log, and one notification
// tells the user.
func (u *UI) serviceLost(err error, lost bool) {
	if lost {
		names := u.m.serviceLost(u.now())
		for _, n := range names {
			if lw := u.logWins[n]; lw != nil {
				lw.refresh()
			}
			u.closeSAMLHint(n)
		}
		if len(names) > 0 {
			u.notify("cvpn service stopped", "The state of "+strings.Join(names, ", ")+
				" is unknown. cvpn reconnects to the service when it is back.")
		}
	}
	u.m.serviceDown = true
	u.setServiceProblem(err)
	u.refresh()
}

// serviceBack hides the "service not running" bar (main goroutine).
func (u *UI) serviceBack() {
	u.m.serviceDown = false
	u.setServiceProblem(nil)
}

// post queues fn for the main goroutine; false when the UI has stopped or
// ctx ended first.
func (u *UI) post(ctx context.Context, fn func()) bool {
	select {
	case u.inbox <- fn:
		return true
	case <-ctx.Done():
		return false
	case <-u.ctx.Done():
		return false
	}
}

// drain runs queued work and pending events on the calling goroutine; tests
// use it in place of Start.
func (u *UI) drain() {
	for {
		select {
		case fn := <-u.inbox:
			fn()
			continue
		default:
		}
		if u.events != nil {
			select {
			case ev, ok := <-u.events:
				if ok {
					u.handleEvent(ev)
					continue
				}
				u.events = nil
			default:
			}
		}
		return
	}
}

func (u *UI) requestCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(u.ctx, u.opts.RequestTimeout)
}

// handleEvent applies one backend event (main goroutine).
func (u *UI) handleEvent(ev ConnEvent) {
	if ev.Time.IsZero() {
		ev.Time = u.now()
	}
	if u.m.repeatedError(ev) {
		// The daemon reports a failed connection twice: the session's own
		// error event, then its end with the same reason.
		return
	}
	prev := u.m.apply(ev)
	lw := u.logWins[ev.Name]
	if lw != nil {
		lw.refresh()
	}
	switch ev.Event.Event {
	case clientapi.EventState:
		u.onStateChange(ev, prev)
	case clientapi.EventBanner:
		u.showBanner(ev.Name, ev.Text)
	case clientapi.EventSAML:
		u.showSAMLHint(ev.Name, ev.URL)
	case clientapi.EventWebAuth:
		u.showWebSignIn(ev.Name, ev.URL)
	case clientapi.EventReauthRequired:
		u.showReauth(ev.Name)
	case clientapi.EventError:
		// Hiding a dialog also removes the dialogs above it: close the
		// sign-in dialog before the problem is shown.
		u.closeSAMLHint(ev.Name)
		p := Explain(ev.Message, false)
		u.notify(p.Title+" ("+ev.Name+")", p.Advice)
		u.showProblem(ev.Name, p)
	case clientapi.EventRouteEnforced:
		if ev.Action == "removed" {
			u.notify("Route removed", fmt.Sprintf("%s conflicted with %s and was removed while connected.", ev.Route, ev.Name))
		}
	}
	u.refresh()
}

func (u *UI) onStateChange(ev ConnEvent, prev clientapi.State) {
	switch {
	case ev.State == clientapi.StateConnected && prev != clientapi.StateConnected:
		body := "Tunnel is up"
		if ev.TunnelIPv4 != "" {
			body += ", address " + ev.TunnelIPv4
		}
		u.notify("Connected to "+ev.Name, body+".")
		u.closeSAMLHint(ev.Name)
	case ev.State == clientapi.StateDisconnected && prev != clientapi.StateDisconnected && prev != "":
		u.notify("Disconnected from "+ev.Name, "The VPN connection is closed.")
		u.closeSAMLHint(ev.Name)
	case ev.State == clientapi.StateConnected || ev.State == clientapi.StateConfiguring:
		u.closeSAMLHint(ev.Name)
	}
}

func (u *UI) applyStatus(asked uint64, list []ConnStatus) {
	for _, n := range u.m.applyStatus(u.now(), asked, list) {
		u.notify("Disconnected from "+n, "The VPN connection is closed.")
		u.closeSAMLHint(n)
	}
	for _, lw := range u.logWins {
		lw.refresh()
	}
	u.refresh()
}
