//go:build !linux && !windows && !darwin

package daemon

import (
	"context"
	"errors"

	"github.com/cvpn/cvpn/app/ipc"
)

type noDesktop struct{}

func osDesktop() Desktop { return noDesktop{} }

func (noDesktop) ActiveSession(context.Context, ipc.Peer) (bool, string, error) {
	return false, "", errors.New("desktop sessions are not known on this OS")
}
