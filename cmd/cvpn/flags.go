package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// cmdFlags is a flag set with a usage text, parsed with flags allowed
// before and after positional arguments ("check FILE --json").
type cmdFlags struct {
	*flag.FlagSet
	usage string // "cvpn profile check FILE [--json]"
	about string // one paragraph
}

func newFlags(name, usage, about string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, usage: usage, about: about}
}

func (f *cmdFlags) writeHelp(w io.Writer) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", f.usage, f.about)
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString("\nflags:\n")
		f.SetOutput(&b)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
	w.Write(b.Bytes())
}

// parse parses args and returns the positional arguments. ok is false
// when the caller must return code: 0 after --help (usage on stdout), 2
// after a usage error (message and usage on stderr), or when the number of
// positional arguments is outside [minPos, maxPos].
func (f *cmdFlags) parse(args []string, minPos, maxPos int, stdout, stderr io.Writer) (pos []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.writeHelp(stdout)
			return nil, 0, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f.Name(), err)
			f.writeHelp(stderr)
			return nil, 2, false
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		switch {
		case len(pos) < minPos:
			fmt.Fprintf(stderr, "%s: missing argument\n", f.Name())
		default:
			fmt.Fprintf(stderr, "%s: unexpected argument %q\n", f.Name(), pos[maxPos])
		}
		f.writeHelp(stderr)
		return nil, 2, false
	}
	return pos, 0, true
}
