// Command mkzip writes a zip archive of the files under a folder, with
// paths relative to that folder's parent (so the archive unpacks into one
// folder), sorted names, and each file's Unix mode kept. It exists so that
// `make dist` needs no zip program on the build machine.
//
// Usage: go run ./packaging/cmd/mkzip -o OUT.zip DIR
package main
