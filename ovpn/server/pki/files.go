package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory that is synced and then renamed over path, so readers see either
// the old or the new content. perm is applied before any data is written.
// Flushing the directory afterwards is best effort.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	o := atomicfile.Options{Mode: perm, TempPattern: "." + filepath.Base(path) + ".tmp*", Sync: true, SyncDir: true}
	if err := atomicfile.Write(path, data, o); err != nil && !atomicfile.IsSyncDir(err) {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}
