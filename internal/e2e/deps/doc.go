// Package deps holds the import-rule test of the whole tree: which layer
// may depend on which, checked for Linux, macOS and Windows (see
// ARCHITECTURE.md). It has no code besides the test.
package deps
