package gui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// PrefBlockWhenDown is the preference key of profile name's switch "Block
// traffic while the tunnel is down" (block_when_down). Backends read it
// when they connect (see daemonbackend.Backend.BlockWhenDown).
func PrefBlockWhenDown(name string) string { return "block_when_down." + name }

// Unblocker is implemented by backends that can lift a block of traffic
// outside the tunnel ("Re-enable network").
type Unblocker interface {
	// Unblock lifts the blocks the user may lift and says what it removed.
	Unblock(ctx context.Context) (string, error)
}

// ReenableText explains a block and the captive-portal case before the
// user lifts it.
const ReenableText = "While the tunnel is down, cvpn blocks traffic outside it so that nothing leaks.\n\n" +
	"A Wi-Fi sign-in page (captive portal, as in hotels and airports) cannot load while traffic is " +
	"blocked: re-enable the network, sign in, then connect again.\n\n" +
	"Traffic then leaves outside the tunnel until this connection ends. A block your administrator " +
	"forces can be lifted only by an administrator."

// blockControls are the selected profile's block switch and the
// "Re-enable network" button of the main view.
type blockControls struct {
	u        *UI
	check    *widget.Check
	reenable *widget.Button
	box      *fyne.Container
}

func (u *UI) newBlockControls() *blockControls {
	bc := &blockControls{u: u}
	bc.check = widget.NewCheck("Block traffic while the tunnel is down", func(on bool) {
		if u.selected != "" {
			u.app.Preferences().SetBool(PrefBlockWhenDown(u.selected), on)
		}
	})
	bc.reenable = widget.NewButtonWithIcon("Re-enable network", theme.WarningIcon(), func() { u.confirmReenable(u.selected) })
	bc.reenable.Hide()
	bc.box = container.NewHBox(bc.check, bc.reenable)
	if _, ok := u.b.(Unblocker); !ok {
		bc.box.Hide()
	}
	return bc
}

// refresh shows the selected profile's switch and, while its traffic is
// blocked, the re-enable action.
func (bc *blockControls) refresh(name string, blocked bool) {
	on := bc.u.app.Preferences().BoolWithFallback(PrefBlockWhenDown(name), false)
	if bc.check.Checked != on {
		bc.check.Checked = on
		bc.check.Refresh()
	}
	if blocked {
		bc.reenable.Show()
	} else {
		bc.reenable.Hide()
	}
}

// confirmReenable explains the block and lifts it when the user agrees.
func (u *UI) confirmReenable(name string) {
	ub, ok := u.b.(Unblocker)
	if !ok {
		return
	}
	d := dialog.NewConfirm("Re-enable network?", ReenableText, func(yes bool) {
		if !yes {
			return
		}
		u.runAsync(func() {
			ctx, cancel := u.requestCtx()
			defer cancel()
			text, err := ub.Unblock(ctx)
			u.post(u.ctx, func() {
				if err != nil {
					p := Problem{Title: "Cannot re-enable the network", Advice: "Ask your administrator: only they may lift a block the policy forces.", Detail: err.Error()}
					if errors.Is(err, ErrDaemonNotRunning) {
						p = ExplainError(err)
					}
					u.showProblem(name, p)
					return
				}
				if name != "" {
					c := u.m.get(name)
					c.blocked = false
					c.addLog(u.now(), "network re-enabled: "+text)
				}
				u.refresh()
				u.showInfo("Network re-enabled", text)
			})
		})
	}, u.win)
	d.SetConfirmText("Re-enable network")
	d.SetDismissText("Keep blocked")
	d.Show()
}
