package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// JournalVersion is the format version written to and accepted from journal
// files.
const JournalVersion = 1

// JournalEntry records one route removed by enforcement: the full route as
// it was, when it was removed and why.
type JournalEntry struct {
	Route Route `json:"route"`
	// RemovedAt is when the entry was written, just before the removal.
	RemovedAt time.Time `json:"removed_at"`
	// ConflictsWith is the VPN prefix the route lay inside.
	ConflictsWith netip.Prefix `json:"conflicts_with"`
	// Tunnel names the VPN interface of the session that removed it.
	Tunnel string `json:"tunnel,omitempty"`
}

type journalFile struct {
	Version int            `json:"version"`
	Entries []JournalEntry `json:"entries"`
}

// Journal is the crash-safe on-disk list of routes enforcement has removed
// and not yet restored. Every change rewrites the whole file atomically: a
// temporary file in the same directory is written and fsynced, renamed over
// the journal, and the directory is fsynced. When the last entry goes, the
// file is deleted. The file is created with mode 0600 and its directory, if
// missing, with 0700.
//
// A Journal is not safe for concurrent use; the Enforcer serialises access.
type Journal struct {
	path    string
	entries []JournalEntry
}

// OpenJournal loads the journal at path. A missing file is an empty journal.
// A file that cannot be read or parsed is an error naming the file; it is
// left untouched so that no entry is lost. Temporary files left by a write
// that was interrupted are removed.
func OpenJournal(path string) (*Journal, error) {
	if path == "" {
		return nil, errors.New("routing: journal: no file path given")
	}
	j := &Journal{path: path}
	j.removeStaleTemps()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("routing: journal %s: %w", path, err)
	}
	entries, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("routing: journal %s: %w", path, err)
	}
	j.entries = entries
	return j, nil
}

func parseJournal(data []byte) ([]JournalEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f journalFile
	if err := dec.Decode(&f); err != nil {
		return nil, describeJSONError(data, err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON object")
	}
	if f.Version != JournalVersion {
		return nil, fmt.Errorf("unsupported version %d (this build reads version %d)", f.Version, JournalVersion)
	}
	for i, e := range f.Entries {
		if !e.Route.Dst.IsValid() {
			return nil, fmt.Errorf("entry %d: route has no valid destination", i+1)
		}
	}
	return f.Entries, nil
}

// describeJSONError turns a decoding error into a message with the line and
// column of the problem when the decoder knows its offset.
func describeJSONError(data []byte, err error) error {
	var offset int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("file is empty, not a journal")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("file is truncated at byte %d, not a complete journal", len(data))
	}
	if offset < 0 || offset > int64(len(data)) {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	col := int(offset) - bytes.LastIndexByte(data[:offset], '\n')
	return fmt.Errorf("line %d, column %d: invalid JSON: %w", line, col, err)
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return j.path }

// Len returns the number of entries.
func (j *Journal) Len() int { return len(j.entries) }

// Entries returns a copy of the entries in the order they were written.
func (j *Journal) Entries() []JournalEntry {
	out := make([]JournalEntry, len(j.entries))
	for i, e := range j.entries {
		e.Route = e.Route.Clone()
		out[i] = e
	}
	return out
}

// Contains reports whether an entry holds a route identical to r.
func (j *Journal) Contains(r Route) bool { return j.index(r) >= 0 }

func (j *Journal) index(r Route) int {
	return slices.IndexFunc(j.entries, func(e JournalEntry) bool { return e.Route.Equal(r) })
}

// Append adds e and writes the journal to disk. An entry whose route is
// already journaled is not added twice. On a write error the in-memory
// journal is unchanged.
func (j *Journal) Append(e JournalEntry) error { return j.AppendAll([]JournalEntry{e}) }

// AppendAll adds the entries whose routes are not yet journaled, with one
// write to disk. On a write error the in-memory journal is unchanged.
func (j *Journal) AppendAll(es []JournalEntry) error {
	next := slices.Clip(j.entries)
	added := false
	for _, e := range es {
		if slices.ContainsFunc(next, func(o JournalEntry) bool { return o.Route.Equal(e.Route) }) {
			continue
		}
		e.Route = e.Route.Clone()
		next = append(next, e)
		added = true
	}
	if !added {
		return nil
	}
	if err := j.write(next); err != nil {
		return err
	}
	j.entries = next
	return nil
}

// Remove deletes the entry whose route is identical to r, if any, and writes
// the journal to disk. On a write error the in-memory journal is unchanged.
func (j *Journal) Remove(r Route) error { return j.RemoveAll([]Route{r}) }

// RemoveAll deletes the entries whose routes are identical to one of rs,
// with one write to disk. On a write error the in-memory journal is
// unchanged.
func (j *Journal) RemoveAll(rs []Route) error {
	next := slices.DeleteFunc(slices.Clone(j.entries), func(e JournalEntry) bool {
		return slices.ContainsFunc(rs, e.Route.Equal)
	})
	if len(next) == len(j.entries) {
		return nil
	}
	if err := j.write(next); err != nil {
		return err
	}
	j.entries = next
	return nil
}

func (j *Journal) tempPrefix() string { return "." + filepath.Base(j.path) + ".tmp-" }

func (j *Journal) removeStaleTemps() {
	dir := filepath.Dir(j.path)
	names, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n.Name(), j.tempPrefix()) && n.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, n.Name()))
		}
	}
}

func (j *Journal) write(entries []JournalEntry) error {
	dir := filepath.Dir(j.path)
	if len(entries) == 0 {
		err := os.Remove(j.path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("routing: journal %s: remove empty journal: %w", j.path, err)
		}
		if err := atomicfile.SyncDir(dir); err != nil {
			return fmt.Errorf("routing: journal %s: sync directory: %w", j.path, err)
		}
		return nil
	}
	if entries == nil {
		entries = []JournalEntry{}
	}
	data, err := json.MarshalIndent(journalFile{Version: JournalVersion, Entries: entries}, "", "  ")
	if err != nil {
		return fmt.Errorf("routing: journal %s: encode: %w", j.path, err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("routing: journal %s: create directory: %w", j.path, err)
	}
	// Mode 0600, fsync of the file and then of the folder: the journal
	// must survive a power cut.
	o := atomicfile.Options{Mode: 0o600, TempPattern: j.tempPrefix() + "*", Sync: true, SyncDir: true}
	if err := atomicfile.Write(j.path, data, o); err != nil {
		return fmt.Errorf("routing: journal %s: %w", j.path, err)
	}
	return nil
}
