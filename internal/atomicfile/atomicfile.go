package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Options says how Write creates and flushes the file.
type Options struct {
	// Mode is the permission of the new file (zero means 0600, what
	// os.CreateTemp gives). It is set with chmod, so the
	// process umask does not narrow it. On Windows only the read-only bit
	// exists and a refused chmod is ignored (the ACL comes from the folder).
	Mode fs.FileMode
	// TempPattern names the temporary file, as the pattern of
	// os.CreateTemp; the default is "." + base name + ".tmp-*".
	TempPattern string
	// Sync flushes the file to disk before it is renamed.
	Sync bool
	// SyncDir flushes the directory after the rename so that the rename
	// itself survives a power cut (a no-op on Windows). A failure is an
	// *Error with Op OpSyncDir; the new content is in place by then.
	SyncDir bool
	// NoReplace refuses to replace an existing file: Write then fails
	// with an error matching fs.ErrExist and leaves the file as it was.
	NoReplace bool

	// fail, set by tests only, makes the named step fail.
	fail func(op string) error
}

// The steps of Write, as reported in Error.Op.
const (
	OpCreate  = "create temporary file"
	OpChmod   = "chmod"
	OpWrite   = "write"
	OpSync    = "sync"
	OpClose   = "close"
	OpRename  = "rename"
	OpLink    = "link"
	OpRemove  = "remove temporary file"
	OpSyncDir = "sync directory"
)

// Error reports which step of Write failed.
type Error struct {
	Op   string // one of the Op constants
	Path string // the file Write was asked to write
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("write %s: %s: %v", e.Path, e.Op, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// IsSyncDir reports whether err is only the failure to flush the directory
// after a successful rename: the new content is in place, but the rename
// may not survive a power cut.
func IsSyncDir(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == OpSyncDir
}

// Write replaces path with a file holding data, as o says. On any error
// before the rename, path is unchanged and no temporary file is left.
func Write(path string, data []byte, o Options) (err error) {
	dir := filepath.Dir(path)
	pattern := o.TempPattern
	if pattern == "" {
		pattern = "." + filepath.Base(path) + ".tmp-*"
	}
	step := func(op string, f func() error) error {
		if err != nil {
			return err
		}
		if o.fail != nil {
			if ferr := o.fail(op); ferr != nil {
				err = &Error{Op: op, Path: path, Err: ferr}
				return err
			}
		}
		if ferr := f(); ferr != nil {
			err = &Error{Op: op, Path: path, Err: ferr}
		}
		return err
	}
	var f *os.File
	if err := step(OpCreate, func() (cerr error) { f, cerr = os.CreateTemp(dir, pattern); return cerr }); err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if !closed {
			_ = f.Close()
		}
		// After a rename the name is gone; after a link both names exist
		// and the temporary one must go.
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = &Error{Op: OpRemove, Path: path, Err: rerr}
		}
	}()
	_ = step(OpChmod, func() error {
		mode := o.Mode.Perm()
		if mode == 0 {
			mode = 0o600
		}
		if cerr := f.Chmod(mode); cerr != nil && !chmodUnsupported(cerr) {
			return cerr
		}
		return nil
	})
	_ = step(OpWrite, func() error { _, werr := f.Write(data); return werr })
	if o.Sync {
		_ = step(OpSync, f.Sync)
	}
	_ = step(OpClose, func() error { closed = true; return f.Close() })
	if o.NoReplace {
		_ = step(OpLink, func() error { return linkNew(tmp, path) })
	} else {
		_ = step(OpRename, func() error { return os.Rename(tmp, path) })
	}
	if err != nil {
		return err
	}
	if o.SyncDir {
		if serr := SyncDir(dir); serr != nil {
			return &Error{Op: OpSyncDir, Path: path, Err: serr}
		}
	}
	return nil
}

// linkNew gives tmp the name path unless path exists. A hard link fails if
// the name exists, so a concurrent writer of the same name cannot be
// overwritten; where links are not supported it falls back to a rename
// after checking that path does not exist.
func linkNew(tmp, path string) error {
	lerr := os.Link(tmp, path)
	if lerr == nil || errors.Is(lerr, fs.ErrExist) {
		return lerr
	}
	if _, serr := os.Lstat(path); serr == nil {
		return &fs.PathError{Op: "link", Path: path, Err: fs.ErrExist}
	}
	return os.Rename(tmp, path)
}
