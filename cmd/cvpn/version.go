package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

func versionCommand() command {
	return command{name: "version", summary: "print the cvpn version, Go version and platform", run: runVersion}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn version", "cvpn version", "Print the cvpn version, the Go version it was built with, and the OS/architecture.")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	fmt.Fprintf(stdout, "cvpn %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
