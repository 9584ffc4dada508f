package routing

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fullRoute sets every attribute, so round trips prove nothing is lost.
func fullRoute() Route {
	return Route{
		Dst: pfx("172.31.1.0/24"), Gateway: addr("192.168.1.1"), Interface: "eth0", IfIndex: 2,
		Metric: 600, Table: MainTable, Protocol: 16, Scope: 0, Type: TypeUnicast,
		Src: addr("192.168.1.50"), Flags: 0x4, MTU: 1400,
	}
}

func multipathRoute() Route {
	return Route{
		Dst: pfx("2001:db8:7::/48"), Table: MainTable, Type: TypeUnicast, Metric: 1024, Protocol: 9, Scope: 0,
		Hops: []NextHop{
			{Gateway: addr("fe80::1"), Interface: "eth0", IfIndex: 2, Weight: 1},
			{Gateway: addr("fe80::2"), Interface: "wlan0", IfIndex: 3, Weight: 2, Flags: 1},
		},
	}
}

func TestJournalRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "routes.json")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	e1 := JournalEntry{Route: fullRoute(), RemovedAt: when, ConflictsWith: pfx("172.31.0.0/16"), Tunnel: "tun0"}
	e2 := JournalEntry{Route: multipathRoute(), RemovedAt: when.Add(time.Second), ConflictsWith: pfx("2000::/4"), Tunnel: "tun0"}
	for _, e := range []JournalEntry{e1, e2, e1} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if j.Len() != 2 {
		t.Fatalf("Len = %d after appending a duplicate, want 2", j.Len())
	}

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v, want 0600", st.Mode().Perm())
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("journal directory mode = %v, want 0700", dst.Mode().Perm())
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var probe struct {
		Version int               `json:"version"`
		Entries []json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || probe.Version != 1 || len(probe.Entries) != 2 {
		t.Fatalf("file content: version=%d entries=%d err=%v\n%s", probe.Version, len(probe.Entries), err, raw)
	}
	for _, want := range []string{`"dst": "172.31.1.0/24"`, `"gateway": "192.168.1.1"`, `"conflicts_with": "172.31.0.0/16"`, `"removed_at": "2026-11-03T10:00:00Z"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("journal file lacks %s:\n%s", want, raw)
		}
	}

	j2, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	got := j2.Entries()
	if len(got) != 2 || !got[0].Route.Equal(e1.Route) || !got[1].Route.Equal(e2.Route) ||
		!got[0].RemovedAt.Equal(e1.RemovedAt) || got[1].ConflictsWith != e2.ConflictsWith || got[0].Tunnel != "tun0" {
		t.Fatalf("reloaded entries differ:\n got %+v\nwant %+v %+v", got, e1, e2)
	}

	if err := j2.Remove(e1.Route); err != nil {
		t.Fatal(err)
	}
	if j3, err := OpenJournal(path); err != nil || j3.Len() != 1 || !j3.Entries()[0].Route.Equal(e2.Route) {
		t.Fatalf("after Remove: %v, %v", j3, err)
	}
	if err := j2.Remove(e2.Route); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("empty journal file still exists (stat err %v)", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("files left in the journal directory: %v", left)
	}
}

func TestJournalCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"garbage", "{\n  \"version\": 1,\n  \"entries\": [ nope ]\n}\n", "line 3"},
		{"truncated", `{"version": 1, "entries": [{"route": {"dst": "10.0.0.0/8"`, "truncated"},
		{"empty", "  \n", "empty"},
		{"version", `{"version": 7, "entries": []}`, "unsupported version 7"},
		{"no dst", `{"version": 1, "entries": [{"route": {"gateway": "10.0.0.1"}}]}`, "entry 1: route has no valid destination"},
		{"bad prefix", `{"version": 1, "entries": [{"route": {"dst": "10.0.0.300/8"}}]}`, "invalid JSON"},
		{"trailing", `{"version": 1, "entries": []} {}`, "unexpected data"},
		{"unknown field", `{"version": 1, "entries": [], "extra": 1}`, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "routes.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenJournal(path)
			if err == nil {
				t.Fatal("OpenJournal accepted a corrupt file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and %q", err, tc.want)
			}
			// Neither the engine nor Recover may overwrite it.
			if _, err := NewEnforcer(Config{Table: newMemTable(), JournalPath: path}); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("NewEnforcer error = %v, want one naming %s", err, path)
			}
			if _, err := Recover(t.Context(), path, newMemTable(), nil); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("Recover error = %v, want one naming %s", err, path)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tc.content {
				t.Error("corrupt journal was modified")
			}
		})
	}
}

func TestJournalRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.json")
	stale := filepath.Join(dir, ".routes.json.tmp-123")
	other := filepath.Join(dir, ".other.json.tmp-123")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("{half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenJournal(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file of this journal was not removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("temporary file of another journal was removed")
	}
}

func TestJournalWriteFailureKeepsState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "routes.json")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	// The journal's directory cannot be created: a file is in its way.
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = j.Append(JournalEntry{Route: fullRoute()})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Append error = %v, want one naming %s", err, path)
	}
	if j.Len() != 0 {
		t.Error("failed Append changed the in-memory journal")
	}
	if _, err := OpenJournal(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenJournal under a file: error %v, want one naming %s", err, path)
	}
	if _, err := OpenJournal(""); err == nil {
		t.Error("OpenJournal accepted an empty path")
	}
}
