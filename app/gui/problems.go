package gui

import (
	"errors"
	"regexp"
	"runtime"
	"strings"

	"github.com/cvpn/cvpn/app/ipc"
)

// Problem is an error explained for people: what happened, what to do, and
// the original message for the log and for support.
type Problem struct {
	Title  string
	Advice string
	Detail string
	// Retry offers "Try again" (connect the same profile again).
	Retry bool
}

// notCompletedRE finds how long the browser sign-in waited
// (samlflow/signin.TimeoutError).
var notCompletedRE = regexp.MustCompile(`not completed in the browser within (\d+ (?:minute|second)s?)`)

// Explain turns an error message from the daemon or a connection into a
// Problem. daemonDown is true when the error wraps ErrDaemonNotRunning.
func Explain(msg string, daemonDown bool) Problem {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	p := Problem{Detail: msg}
	switch {
	case daemonDown || has("daemon is not running", "cvpn.sock"):
		p.Title = "The cvpn service is not running"
		p.Advice = startServiceAdvice()
	case has("cvpn service stopped", "cvpn daemon is stopping"):
		p.Title = "The cvpn service stopped"
		p.Advice = "The connection ended when the service stopped. Connect again."
	case has("not completed in the browser"):
		p.Title = "Sign-in not completed"
		within := "in time"
		if m := notCompletedRE.FindStringSubmatch(msg); m != nil {
			within = "within " + m[1]
		}
		p.Advice = "The sign-in was not completed in the browser " + within + ", so the connection was not made. " +
			"Click Try again to open the sign-in page again and finish signing in there."
		p.Retry = true
	case has("browser sign-in was cancelled"):
		p.Title = "Sign-in cancelled"
		p.Advice = "The browser sign-in was cancelled, so the connection was not made. Click Try again to start over."
		p.Retry = true
	case has("35001") && has("in use", "busy", "bind", "listen"):
		p.Title = "Port 35001 is busy"
		p.Advice = "Browser sign-in needs port 35001 on this computer, and another program is using it " +
			"(often the AWS VPN Client or a second cvpn). Quit that program, then connect again."
	case has("auth_failed", "authentication failed", "auth failed", "wrong password", "invalid credentials"):
		p.Title = "Sign-in failed"
		p.Advice = "The server refused your user name, password or verification code. Check them and connect again. " +
			"If it keeps failing, ask your IT team whether your account may use this VPN."
	case has("overlap", "full-tunnel", "full tunnel"):
		p.Title = "This connection clashes with another one"
		p.Advice = "Its routes overlap a connection that is already open. Disconnect the other connection first, then connect again."
	case has("expired", "not yet valid"):
		p.Title = "A certificate is not valid"
		p.Advice = "A certificate in this profile (or the server's) has expired or is not valid yet. " +
			"Check the computer's date and time; if it is right, ask your IT team for a new profile."
	case has("timeout", "timed out", "unreachable", "no route to host", "connection refused", "no such host",
		"did not answer", "no answer", "cannot resolve", "could not resolve", "lookup"):
		p.Title = "Cannot reach the VPN server"
		p.Advice = "Check that this computer is online. If other websites work, the server may be down or blocked " +
			"by this network (hotel and guest Wi-Fi often block VPNs); try again later or contact your IT team."
	case has("permission denied", "not allowed", "belongs to"):
		p.Title = "Not allowed"
		p.Advice = "This connection was started by another user. Only that user or an administrator can change it."
	default:
		p.Title = "Something went wrong"
		p.Advice = "The connection log has the details. Open it with the Log button, and send it to your IT team if the problem stays."
	}
	return p
}

// ExplainError is Explain for an error value.
func ExplainError(err error) Problem {
	return Explain(err.Error(), errors.Is(err, ErrDaemonNotRunning))
}

// startServiceAdvice tells how to start the service, with the same command
// as the daemon's "not running" error (ipc.StartCommand).
func startServiceAdvice() string {
	return "The app needs its background service. Start it with " + ipc.StartCommand(runtime.GOOS) +
		"; cvpn finds it again by itself."
}
