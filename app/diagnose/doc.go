// Package diagnose builds the support bundle of `cvpn diagnose` and the
// GUI's "Save diagnostics": a zip of versions, OS, policy, profile
// summaries, the daemon's redacted logs, routes, DNS, journals and recent
// events. Redact is the one text redaction every part goes through.
package diagnose
