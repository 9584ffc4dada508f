package diagnose

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// Options say where a bundle's parts come from.
type Options struct {
	// Version is cvpn's version.
	Version string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// PolicyPath is the policy file (policy.Resolve's answer).
	PolicyPath string
	// UserRoot is the user's data root (profiles); empty skips them.
	UserRoot string
	// Daemon asks the daemon for its part; nil or an error is noted in the
	// bundle and the rest is still collected.
	Daemon func(ctx context.Context) (*ipc.Diagnostics, error)
	// LocalLogs is the daemon's (or a foreground cvpn connect's) log
	// folder, read directly when the daemon cannot be asked (root can read
	// it; a user is told why not). Empty skips it.
	LocalLogs string
	// NetworkChanges returns what a network monitor of this process saw
	// recently, one line each; nil for none (the daemon's monitor comes
	// with the daemon's part, as NetworkMonitorFile).
	NetworkChanges func() []string
}

// NetworkMonitorFile is the daemon's record of recent network changes
// (platform/netmon) in the bundle.
const NetworkMonitorFile = "daemon/network-monitor.txt"

// Report is what Write put in the bundle and what it could not collect.
type Report struct {
	Files   []string
	Missing []string
}

// Write writes the support bundle as a zip to w. Every text goes through
// Redact; profile keys, passwords and tokens never enter it.
func Write(ctx context.Context, w io.Writer, o Options) (Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	var r Report
	files := map[string]string{}
	add := func(name, text string) { files[name] = Redact(text) }
	missing := func(format string, a ...any) { r.Missing = append(r.Missing, fmt.Sprintf(format, a...)) }

	add("system.txt", systemText(o))

	pol, err := policy.Load(o.PolicyPath)
	switch {
	case err != nil:
		add("policy.txt", "the policy is bad (the daemon refuses to start): "+err.Error()+"\n")
		pol = policy.Default()
	case !pol.Found:
		// Describe says where each value came from: the file, the
		// managed (MDM/GPO) source or the default.
		add("policy.txt", pol.Describe())
	default:
		raw, _ := os.ReadFile(o.PolicyPath)
		add("policy.txt", pol.Describe()+"\n--- file ---\n"+string(raw))
	}

	profiles, notes := profileSummaries(o.UserRoot, pol)
	r.Missing = append(r.Missing, notes...)
	b, _ := json.MarshalIndent(profiles, "", "  ")
	add("profiles.json", string(b)+"\n")

	if o.Daemon == nil {
		missing("daemon: not asked")
	} else if d, err := o.Daemon(ctx); err != nil {
		missing("daemon (connections, routes, DNS, journals, events): %v", err)
		localLogs(o.LocalLogs, add, missing)
	} else {
		for _, f := range d.Files {
			add(f.Name, f.Text)
		}
		for _, n := range d.Notes {
			missing("daemon: %s", n)
		}
	}

	if o.NetworkChanges != nil {
		add("network-monitor.txt", strings.Join(o.NetworkChanges(), "\n")+"\n")
	} else if _, ok := files[NetworkMonitorFile]; !ok {
		missing("network monitor: nothing from the daemon")
	}

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var readme strings.Builder
	fmt.Fprintf(&readme, "cvpn support bundle, %s, cvpn %s\n\nFiles:\n", o.Now().UTC().Format(time.RFC3339), o.Version)
	for _, n := range names {
		fmt.Fprintf(&readme, "  %s\n", n)
	}
	if len(r.Missing) > 0 {
		readme.WriteString("\nNot collected:\n")
		for _, m := range r.Missing {
			fmt.Fprintf(&readme, "  %s\n", m)
		}
	}
	readme.WriteString("\nSecrets (keys, passwords, tokens, SAML assertions) are removed from every file.\n")
	files["README.txt"] = readme.String()
	names = append([]string{"README.txt"}, names...)

	zw := zip.NewWriter(w)
	for _, n := range names {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: o.Now()})
		if err != nil {
			return r, err
		}
		if _, err := io.WriteString(fw, files[n]); err != nil {
			return r, err
		}
	}
	r.Files = names
	return r, zw.Close()
}

// localLogs adds the newest connection logs of dir, read directly.
func localLogs(dir string, add func(name, text string), missing func(string, ...any)) {
	if dir == "" {
		return
	}
	logs, err := NewestLogs(dir, 10)
	if err != nil {
		missing("connection logs in %s: %v", dir, err)
		return
	}
	for _, p := range logs {
		data, err := ReadTail(p, 256<<10)
		if err != nil {
			missing("connection log %s: %v", p, err)
			continue
		}
		add("logs/"+filepath.Base(p), data)
	}
}

func systemText(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cvpn %s\n%s %s/%s\n", o.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, p := range []string{"/etc/os-release", "/proc/version", "/System/Library/CoreServices/SystemVersion.plist"} {
		if data, err := os.ReadFile(p); err == nil {
			fmt.Fprintf(&b, "\n--- %s ---\n%s", p, data)
		}
	}
	return b.String()
}

// profileSummary is one profile in profiles.json: the list entry and the
// summary (never keys: profile.Summary only says whether one is present).
type profileSummary struct {
	profilestore.Entry
	Profile *profile.Summary `json:"profile,omitempty"`
}

func profileSummaries(userRoot string, pol policy.Policy) ([]profileSummary, []string) {
	var notes []string
	sys := profilestore.OpenSystem(pol.ProfilesDir, profilestore.Options{})
	sl, err := sys.List()
	if err != nil {
		notes = append(notes, "system profiles: "+err.Error())
	}
	var ul []profilestore.Entry
	var user *profilestore.Store
	if userRoot != "" {
		if user, err = profilestore.Open(userRoot, profilestore.Options{}); err == nil {
			ul, err = user.List()
		}
		if err != nil {
			notes = append(notes, "your profiles: "+err.Error())
		}
	}
	out := []profileSummary{}
	for _, e := range profilestore.Merge(sl, ul) {
		ps := profileSummary{Entry: e}
		st := user
		if e.Managed {
			st = sys
		}
		if st != nil {
			if p, _, err := st.Load(e.Name); err == nil {
				s := p.Summary()
				ps.Profile = &s
			}
		}
		out = append(out, ps)
	}
	return out, notes
}
