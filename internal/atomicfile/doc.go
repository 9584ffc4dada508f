// Package atomicfile replaces a file so that a reader sees either the old
// or the new content, never a mix: the data goes to a temporary file in
// the same directory, gets its mode, is optionally flushed to disk, and is
// renamed over the target. The temporary file is removed on every error.
//
// How durable a write must be is the caller's call: a record of state that
// does not outlive a reboot needs no fsync (the page cache keeps it across
// a process crash), a record that does needs the file and its directory
// flushed.
package atomicfile
