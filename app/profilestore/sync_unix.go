//go:build !windows

package profilestore

import "os"

// syncDir flushes a directory entry change (create, rename, remove) to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
