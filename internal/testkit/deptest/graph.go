package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Platform is a GOOS/GOARCH pair the graph is loaded for.
type Platform struct {
	GOOS, GOARCH string
}

func (p Platform) String() string { return p.GOOS + "/" + p.GOARCH }

// Graph is the non-test import graph of a module's packages and everything
// they depend on, for one platform.
type Graph struct {
	Platform Platform
	// Module is the module path; module-relative paths in rules are joined
	// to it.
	Module string
	// imports maps each package's import path to its imports.
	imports map[string][]string
	// roots are the module's own packages that match the load patterns.
	roots []string
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	DepOnly    bool
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// Load runs `go list -e -deps -json ./...` in dir (the module root) with
// GOOS, GOARCH and CGO_ENABLED=1 set, and returns the graph. A package that
// fails to load is an error, except one whose files are all excluded by
// build constraints on this platform (it is simply not part of the graph).
func Load(dir string, p Platform) (*Graph, error) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,DepOnly,Module,Error", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+p.GOOS, "GOARCH="+p.GOARCH, "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("deptest: go list for %s: %w: %s", p, err, stderr.Bytes())
	}
	g := &Graph{Platform: p, imports: map[string][]string{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	var errs []error
	for {
		var lp listedPackage
		if err := dec.Decode(&lp); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("deptest: decoding go list output for %s: %w", p, err)
		}
		if lp.Error != nil {
			if strings.Contains(lp.Error.Err, "build constraints exclude all Go files") {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %s", lp.ImportPath, lp.Error.Err))
			continue
		}
		g.imports[lp.ImportPath] = lp.Imports
		if !lp.DepOnly {
			g.roots = append(g.roots, lp.ImportPath)
			if g.Module == "" && lp.Module != nil {
				g.Module = lp.Module.Path
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("deptest: go list for %s: %w", p, err)
	}
	if g.Module == "" {
		return nil, fmt.Errorf("deptest: go list for %s found no package of the module in %s", p, dir)
	}
	return g, nil
}

// full turns a module-relative path ("ovpn/client") into an import path;
// a path whose first element has a dot ("golang.zx2c4.com/wireguard/tun")
// is already one.
func (g *Graph) full(p string) string {
	first, _, _ := strings.Cut(p, "/")
	if strings.Contains(first, ".") {
		return p
	}
	return g.Module + "/" + p
}

// under reports whether pkg is prefix or inside it ("a/b" is under "a",
// "a/bc" is not).
func under(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// matchPattern reports whether pkg matches a module-relative pattern:
// "x/y" matches that package only, "x/y/..." it and everything below.
func (g *Graph) matchPattern(pkg, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return under(pkg, g.full(p))
	}
	return pkg == g.full(pattern)
}

// has reports whether some package of the graph is prefix or below it.
func (g *Graph) has(prefix string) bool {
	full := g.full(prefix)
	for p := range g.imports {
		if under(p, full) {
			return true
		}
	}
	return false
}

// chain returns the shortest import chain from root to the first package
// bad accepts (breadth-first, imports in listed order), or nil.
func (g *Graph) chain(root string, bad func(string) bool) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != root && bad(p) {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, p)
			}
			for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
				c[i], c[j] = c[j], c[i]
			}
			return c
		}
		for _, q := range g.imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
