package ipc

import (
	"context"
	"strings"
	"testing"
)

// blockingHandler is a fakeHandler that is also a Blocker.
type blockingHandler struct {
	fakeHandler
	got     []ConnectOptions
	unblock []Peer
}

func (h *blockingHandler) ConnectWith(_ context.Context, fe FrontEnd, name, text string, o ConnectOptions) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, o)
	return nil
}

func (h *blockingHandler) Unblock(p Peer) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unblock = append(h.unblock, p)
	return `Lifted the full block of "work" until the connection ends.`, nil
}

func TestBlockWhenDownOverIPC(t *testing.T) {
	h := &blockingHandler{}
	c := dialT(t, startServer(t, h), ClientOptions{})
	if err := c.ConnectWith(tctx(t), "work", []byte("client\n"), ConnectOptions{Bind: true, BlockWhenDown: true}); err != nil {
		t.Fatal(err)
	}
	// A plain connect still reaches Connect, not ConnectWith.
	if err := c.Connect(tctx(t), "work", []byte("client\n"), false); err != nil {
		t.Fatal(err)
	}
	text, err := c.Unblock(tctx(t))
	if err != nil || !strings.Contains(text, "Lifted the full block") {
		t.Fatalf("Unblock = %q, %v", text, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != 1 || h.got[0] != (ConnectOptions{Bind: true, BlockWhenDown: true}) {
		t.Errorf("ConnectWith calls %+v", h.got)
	}
	if len(h.unblock) != 1 || h.unblock[0].UID < 0 {
		t.Errorf("Unblock calls %+v, want one with the caller's credentials", h.unblock)
	}
}

func TestBlockWhenDownNeedsABlocker(t *testing.T) {
	c := dialT(t, startServer(t, &fakeHandler{}), ClientOptions{})
	err := c.ConnectWith(tctx(t), "work", []byte("client\n"), ConnectOptions{BlockWhenDown: true})
	if ErrorCode(err) != CodeBadRequest || !strings.Contains(err.Error(), "cannot block") {
		t.Errorf("block_when_down to a handler that cannot block: %v", err)
	}
	if _, err := c.Unblock(tctx(t)); ErrorCode(err) != CodeBadRequest {
		t.Errorf("unblock to a handler that cannot block: %v", err)
	}
}
