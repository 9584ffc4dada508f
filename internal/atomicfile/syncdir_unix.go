//go:build !windows

package atomicfile

import "os"

// SyncDir flushes a directory so that a create, rename or removal in it
// survives a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func chmodUnsupported(error) bool { return false }
