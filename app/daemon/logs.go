package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Log retention, like the AWS Client VPN client: files older than
// LogMaxAge are deleted, then the oldest until the folder is at most
// LogMaxTotal bytes.
const (
	LogMaxAge   = 30 * 24 * time.Hour
	LogMaxTotal = 90 << 20
)

// redactedKeys are attribute key fragments whose values are never written.
var redactedKeys = []string{"pass", "secret", "token", "key", "saml", "assertion", "answer", "credential", "cookie"}

// redact is a slog ReplaceAttr that hides secrets: attributes with a
// telling key and values carrying OpenVPN challenge responses.
func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, f := range redactedKeys {
		if strings.Contains(k, f) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	if a.Value.Kind() == slog.KindString {
		v := a.Value.String()
		for _, marker := range []string{"SCRV1:", "CRV1:", "SESS_ID", "-----BEGIN"} {
			if strings.Contains(v, marker) {
				return slog.String(a.Key, "[redacted]")
			}
		}
	}
	return a
}

// logFile is one connection's log file.
type logFile struct {
	f      *os.File
	Logger *slog.Logger
}

// openLog opens (appending) dir/NAME-DATE.log, with secrets redacted.
func openLog(dir, name string, now time.Time) (*logFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	path := filepath.Join(dir, name+"-"+now.Format("2006-01-02")+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact})
	return &logFile{f: f, Logger: slog.New(h)}, nil
}

func (l *logFile) Close() error { return l.f.Close() }

// rotateLogs deletes *.log files in dir older than maxAge, then the oldest
// until the rest take at most maxTotal bytes. It returns the files deleted.
func rotateLogs(dir string, now time.Time, maxAge time.Duration, maxTotal int64) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	type lf struct {
		path string
		mod  time.Time
		size int64
	}
	var files []lf
	var removed []string
	var errs []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if now.Sub(info.ModTime()) > maxAge {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err.Error())
			} else {
				removed = append(removed, p)
			}
			continue
		}
		files = append(files, lf{p, info.ModTime(), info.Size()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	var total int64
	for _, f := range files {
		total += f.size
	}
	for i := 0; total > maxTotal && i < len(files); i++ {
		if err := os.Remove(files[i].path); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		total -= files[i].size
		removed = append(removed, files[i].path)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("rotating logs in %s: %s", dir, strings.Join(errs, "; "))
	}
	return removed, nil
}
