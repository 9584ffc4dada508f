//go:build windows

package atomicfile

// SyncDir is a no-op on Windows: directories cannot be opened for
// flushing there, and NTFS commits a MoveFileEx rename through its own
// journal.
func SyncDir(string) error { return nil }

// chmodUnsupported reports whether a chmod error only means Windows has no
// Unix permission bits; the file's ACL then comes from its folder.
func chmodUnsupported(err error) bool { return err != nil }
