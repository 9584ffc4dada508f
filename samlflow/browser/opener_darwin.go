package browser

// opener is the desktop user's opener when root starts it for SUDO_USER.
func opener() string { return "/usr/bin/open" }

// ownOpeners are looked up on PATH for an unprivileged caller.
func ownOpeners() []string { return []string{"open"} }
