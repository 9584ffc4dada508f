package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
	buildDir   string
)

// GoBuild builds the main package importPath (for example
// "github.com/cvpn/cvpn/cmd/cvpn") once per test process and returns the
// binary's path, so end-to-end tests run the real program.
func GoBuild(t testing.TB, importPath string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := buildCache[importPath]; ok {
		return bin
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "cvpn-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	bin := filepath.Join(buildDir, strings.ReplaceAll(strings.TrimPrefix(importPath, "github.com/cvpn/cvpn/"), "/", "-"))
	out, err := exec.Command("go", "build", "-o", bin, importPath).CombinedOutput()
	if err != nil {
		t.Fatal(fmt.Errorf("go build %s: %v\n%s", importPath, err, out))
	}
	buildCache[importPath] = bin
	return bin
}
