package netmon

import (
	"errors"
	"fmt"
	"sync"

	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
)

// cbBuffer is the channel between the notification callbacks and the
// receiver; when it is full a callback drops its event and the loop
// re-reads the state.
const cbBuffer = 256

// cbReceiver is one set of registered notification callbacks.
type cbReceiver struct {
	q     *watchloop.Queue[event]
	once  sync.Once
	unreg []func() error
}

func (r *cbReceiver) put(e event) { r.q.Put(e) }

// open registers NotifyIpInterfaceChange, NotifyUnicastIpAddressChange
// and NotifyRouteChange2 (default routes only) through winipcfg.
func (s *hostSource) open() (watchloop.Receiver[event], error) {
	r := &cbReceiver{q: watchloop.NewQueue[event]("netmon: notification buffer", cbBuffer)}
	ifcb, err := winipcfg.RegisterInterfaceChangeCallback(func(kind winipcfg.MibNotificationType, _ *winipcfg.MibIPInterfaceRow) {
		if kind != winipcfg.MibInitialNotification {
			r.put(event{kind: evLink})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("netmon: NotifyIpInterfaceChange: %w", err)
	}
	r.unreg = append(r.unreg, ifcb.Unregister)
	addrcb, err := winipcfg.RegisterUnicastAddressChangeCallback(func(kind winipcfg.MibNotificationType, _ *winipcfg.MibUnicastIPAddressRow) {
		if kind != winipcfg.MibInitialNotification {
			r.put(event{kind: evAddress})
		}
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("netmon: NotifyUnicastIpAddressChange: %w", err)
	}
	r.unreg = append(r.unreg, addrcb.Unregister)
	rtcb, err := winipcfg.RegisterRouteChangeCallback(func(kind winipcfg.MibNotificationType, row *winipcfg.MibIPforwardRow2) {
		if kind != winipcfg.MibInitialNotification && row != nil && row.DestinationPrefix.PrefixLength == 0 {
			r.put(event{kind: evRoute})
		}
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("netmon: NotifyRouteChange2: %w", err)
	}
	r.unreg = append(r.unreg, rtcb.Unregister)
	return r, nil
}

func (r *cbReceiver) Receive() ([]event, error) { return r.q.Receive() }

func (r *cbReceiver) Close() error {
	var errs []error
	r.once.Do(func() {
		for _, u := range r.unreg {
			errs = append(errs, u())
		}
		r.q.Close()
	})
	return errors.Join(errs...)
}
