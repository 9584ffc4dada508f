package browser

// opener is the desktop user's opener when root starts it for SUDO_USER
// (an absolute path: root's PATH is not trusted for this).
func opener() string { return "/usr/bin/xdg-open" }

// ownOpeners are looked up on PATH for an unprivileged caller.
func ownOpeners() []string { return []string{"xdg-open", "x-www-browser", "www-browser"} }
