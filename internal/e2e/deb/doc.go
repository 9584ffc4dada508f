// Package deb holds no code: its test builds the cvpn .deb for this
// machine's architecture with packaging/deb.sh, installs it with dpkg -i
// into the running system, checks the installed files and `cvpn version`,
// starts the daemon the way the systemd unit would (ExecStart, UMask,
// RuntimeDirectory and StateDirectory taken from the installed unit; in a
// network namespace the test creates, since CI containers run no systemd),
// connects through it as an unprivileged user to the cvpn reference server,
// then removes and purges the package and checks that nothing is left.
//
// It changes the machine, so it runs only with CI=true or CVPN_DEBTEST=1,
// as root with dpkg, and refuses to touch a cvpn that was already there.
package deb
