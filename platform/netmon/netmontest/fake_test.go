package netmontest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cvpn/cvpn/platform/netmon"
	"github.com/cvpn/cvpn/platform/netmon/netmontest"
)

func TestFakeDeliversWhatIsSent(t *testing.T) {
	var n netmon.Notifier = netmontest.New()
	fake := n.(*netmontest.Monitor)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	fake.Send(netmon.Change{DefaultRoute: true, Detail: "swap"})
	select {
	case c := <-n.Changes():
		if !c.DefaultRoute || c.Detail != "swap" || c.Time.IsZero() {
			t.Errorf("got %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered")
	}
	if r := n.Recent(); len(r) != 1 || r[0].Detail != "swap" {
		t.Errorf("Recent %+v", r)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || fake.Runs() != 1 {
		t.Errorf("Run: %v, runs %d", err, fake.Runs())
	}
}
