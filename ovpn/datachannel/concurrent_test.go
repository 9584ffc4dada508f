package datachannel

import (
	"bytes"
	"sync"
	"testing"
)

// TestConcurrentSealOpen runs a sender and a receiver goroutine on the same
// Key pair in both directions at once (run with -race).
func TestConcurrentSealOpen(t *testing.T) {
	cli, srv := pair(t, suite{CipherAES256GCM, AuthNone}, true, nil)
	const n = 500
	ch1 := make(chan []byte, n)
	ch2 := make(chan []byte, n)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(k *Key, ch chan<- []byte) {
		defer wg.Done()
		defer close(ch)
		for i := 0; i < n; i++ {
			p, err := k.Seal(nil, payload(64))
			if err != nil {
				errs <- err
				return
			}
			ch <- p
		}
	}
	recv := func(k *Key, ch <-chan []byte) {
		defer wg.Done()
		buf := make([]byte, 0, 256)
		for p := range ch {
			out, err := k.Open(buf[:0], p)
			if err != nil || !bytes.Equal(out, payload(64)) {
				errs <- err
				return
			}
		}
	}
	wg.Add(4)
	go send(cli, ch1)
	go recv(srv, ch1)
	go send(srv, ch2)
	go recv(cli, ch2)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
