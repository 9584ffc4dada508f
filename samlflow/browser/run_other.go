//go:build !linux && !darwin

package browser

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// runPlain starts c as the current user and reaps it on the Opener's
// goroutine (used for Options.Opener). It returns at once.
func runPlain(_ context.Context, c *command) (*Opener, error) {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	o := &Opener{pid: cmd.Process.Pid, name: filepath.Base(c.Path), done: make(chan struct{})}
	go func() { // owned by o: ends when the opener exits
		if err := cmd.Wait(); err != nil {
			o.err = fmt.Errorf("%s: %w", o.name, err)
		}
		close(o.done)
	}()
	return o, nil
}
