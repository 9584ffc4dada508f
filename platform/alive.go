package platform

// ProcessAlive reports whether a process with the pid exists (state files
// and block records of live processes belong to them).
func ProcessAlive(pid int) bool { return processAlive(pid) }
