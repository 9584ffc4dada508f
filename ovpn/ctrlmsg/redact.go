package ctrlmsg

import "strings"

// Redact shortens a control message for a log line or an error: only the
// command word stays (everything from the first ',' or ':' is cut, which
// hides CRV1 state ids, usernames, tokens and pushed options), and at most
// 64 bytes of it.
func Redact(s string) string {
	if i := strings.IndexAny(s, ",:"); i >= 0 {
		s = s[:i] + ",…"
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}
