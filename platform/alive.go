package platform

// ProcessAlive reports whether a process with the pid exists (state files
// and block records of live processes belong to them). Pids below 1 name
// no single process and are never alive.
func ProcessAlive(pid int) bool { return pid > 0 && processAlive(pid) }
