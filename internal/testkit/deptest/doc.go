// Package deptest checks import rules: it loads the non-test dependency
// graph of a module with `go list -deps -json` for a GOOS/GOARCH and
// reports, for each Rule, every package the rule's packages may not depend
// on, with the import chain that pulls it in. It is a test harness; only
// tests import it.
package deptest
