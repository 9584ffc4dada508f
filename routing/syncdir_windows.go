//go:build windows

package routing

// syncDir is a no-op on Windows: directories cannot be opened for fsync
// there, and NTFS commits MoveFileEx renames through its own journal.
func syncDir(string) error { return nil }

// isChmodUnsupported reports whether a chmod error only means Windows has no
// Unix permission bits; the file's ACL then comes from its directory.
func isChmodUnsupported(err error) bool { return err != nil }
