package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/profile"
)

func profileCommand() command {
	return command{name: "profile", summary: "check, import, list, show and remove VPN profiles (.ovpn)", run: runProfile}
}

// profileSubcommands lists the "cvpn profile" subcommands.
func profileSubcommands() []command {
	return []command{
		{name: "check", summary: "validate a .ovpn file", run: runProfileCheck},
		{name: "import", summary: "validate and store a self-contained copy of a .ovpn file", run: runProfileImport},
		{name: "list", summary: "list stored profiles", run: runProfileList},
		{name: "show", summary: "describe a stored profile (never prints private keys)", run: runProfileShow},
		{name: "remove", summary: "delete a stored profile", run: runProfileRemove},
	}
}

func writeProfileUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: cvpn profile SUBCOMMAND [ARGUMENTS]\n\nsubcommands:\n")
	for _, c := range profileSubcommands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "\nProfiles are stored in the data root ($%s, default: the user config folder + /cvpn).\n", profilestore.EnvHome)
	io.WriteString(w, b.String())
}

func runProfile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeProfileUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		writeProfileUsage(stdout)
		return 0
	}
	for _, c := range profileSubcommands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cvpn profile: unknown subcommand %q\n\n", args[0])
	writeProfileUsage(stderr)
	return 2
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runProfileCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn profile check", "cvpn profile check FILE [--json]",
		"Validate a profile. Exit status 0 when it is usable, 1 when it has errors.\n"+
			"Diagnostics are printed one per line as FILE:LINE: error|warning: message\n"+
			"(on stderr; with --json a single JSON document goes to stdout).")
	asJSON := f.Bool("json", false, `print {"file","usable","diagnostics":[{"line","severity","message"}]} on stdout`)
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	file := pos[0]
	_, ds, err := profile.ParseFile(file, profile.Options{})
	if err != nil {
		if *asJSON {
			res := profile.NewCheckResult(file, profile.Diagnostics{{File: file, Line: 0, Severity: profile.SeverityError, Message: "cannot read the file: " + unwrapErr(err)}})
			writeJSON(stdout, res)
		} else {
			fmt.Fprintf(stderr, "cvpn: cannot read %s: %s\n", file, unwrapErr(err))
		}
		return 1
	}
	res := profile.NewCheckResult(file, ds)
	if *asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return 1
		}
	} else {
		io.WriteString(stderr, ds.String())
		if res.Usable {
			fmt.Fprintf(stdout, "%s: usable\n", file)
		}
	}
	if !res.Usable {
		return 1
	}
	return 0
}

// unwrapErr drops the "open FILE:" prefix of path errors already naming FILE.
func unwrapErr(err error) string {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	return err.Error()
}

func openStore(stderr io.Writer) (*profilestore.Store, bool) {
	root, err := profilestore.DefaultRoot()
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return nil, false
	}
	s, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return nil, false
	}
	return s, true
}

func runProfileImport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn profile import", "cvpn profile import FILE [--name NAME]",
		"Validate a profile and store a self-contained copy (referenced certificate and key\n"+
			"files inlined) under NAME, by default the file name without .ovpn. An existing\n"+
			"name is never replaced.")
	name := f.String("name", "", "store the profile under `NAME` (letters, digits, '.', '_', '-')")
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	pol, ok := loadPolicy("", stderr)
	if !ok {
		return 1
	}
	if !pol.AllowUserProfiles {
		fmt.Fprintf(stderr, "cvpn: %s not imported: %v\n", pos[0], profilestore.ErrUserProfilesOff("import"))
		return 1
	}
	if *name == "" {
		*name = profilestore.NameFromPath(pos[0])
	}
	if sys := systemStore(pol); sys.Has(*name) {
		fmt.Fprintf(stderr, "cvpn: %s not imported: %q is the name of a system profile, which would hide it; choose another with --name NAME\n", pos[0], *name)
		return 1
	}
	s, ok := openStore(stderr)
	if !ok {
		return 1
	}
	e, ds, err := s.ImportFile(pos[0], *name)
	io.WriteString(stderr, ds.String())
	if err != nil {
		var pe *profile.ProfileError
		switch {
		case errors.As(err, &pe):
			fmt.Fprintf(stderr, "cvpn: %s not imported: %d error(s)\n", pos[0], len(pe.Diagnostics))
		default:
			fmt.Fprintf(stderr, "cvpn: %s not imported: %v\n", pos[0], err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "imported %s as %q (%s)\n", pos[0], e.Name, strings.Join(e.Remotes, ", "))
	return 0
}

func runProfileList(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn profile list", "cvpn profile list [--json]",
		"List the stored profiles and the system profiles the administrator manages (the policy's\n"+
			"profiles_dir). A system profile wins over a profile of yours with the same name.")
	asJSON := f.Bool("json", false, `print a JSON array of {"name","path","modified","remotes","auth","usable","managed"}`)
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	pol, ok := loadPolicy("", stderr)
	if !ok {
		return 1
	}
	s, ok := openStore(stderr)
	if !ok {
		return 1
	}
	user, err := s.List()
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return 1
	}
	sys, err := systemStore(pol).List()
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: system profiles: %v\n", err)
		return 1
	}
	list := profilestore.Merge(sys, user)
	if *asJSON {
		if writeJSON(stdout, list) != nil {
			return 1
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no profiles; add one with: cvpn profile import FILE")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAUTH\tREMOTE\tSTATUS")
	for _, e := range list {
		status := "ok"
		if !e.Usable {
			status = "errors (see cvpn profile show " + e.Name + ")"
		}
		switch {
		case e.HidesUserProfile:
			status += ", managed (hides your profile of the same name)"
		case e.Managed:
			status += ", managed"
		}
		remote := ""
		if len(e.Remotes) > 0 {
			remote = e.Remotes[0]
			if len(e.Remotes) > 1 {
				remote += fmt.Sprintf(" (+%d)", len(e.Remotes)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, strings.Join(e.Auth, "+"), remote, status)
	}
	tw.Flush()
	return 0
}

func runProfileShow(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn profile show", "cvpn profile show NAME [--json]",
		"Describe a stored profile. Private keys and static keys are never printed;\n"+
			"the output only says whether they are present.")
	asJSON := f.Bool("json", false, "print the description as JSON")
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	pol, ok := loadPolicy("", stderr)
	if !ok {
		return 1
	}
	s := systemStore(pol)
	if !s.Has(pos[0]) {
		if s, ok = openStore(stderr); !ok {
			return 1
		}
	}
	d, err := s.Show(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return 1
	}
	if *asJSON {
		if writeJSON(stdout, d) != nil {
			return 1
		}
		return 0
	}
	d.Profile.Name = d.Name
	if err := d.Profile.WriteText(stdout); err != nil {
		return 1
	}
	fmt.Fprintf(stdout, "%-16s %s\n", "stored at:", d.Path)
	for _, diag := range d.Diagnostics {
		fmt.Fprintln(stderr, diag.String())
	}
	return 0
}

func runProfileRemove(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn profile remove", "cvpn profile remove NAME", "Delete a stored profile.")
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	pol, ok := loadPolicy("", stderr)
	if !ok {
		return 1
	}
	if sys := systemStore(pol); sys.Has(pos[0]) {
		fmt.Fprintf(stderr, "cvpn: %v\n", profilestore.SystemProfileError(pos[0]))
		return 1
	}
	if !pol.AllowUserProfiles {
		fmt.Fprintf(stderr, "cvpn: %v\n", profilestore.ErrUserProfilesOff("remove"))
		return 1
	}
	s, ok := openStore(stderr)
	if !ok {
		return 1
	}
	if err := s.Remove(pos[0]); err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "removed %q\n", pos[0])
	return 0
}
