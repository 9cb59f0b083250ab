// Package excerpt shortens untrusted text quoted in errors and messages, so
// that a garbage variable or payload cannot flood a log line.
package excerpt

import "unicode/utf8"

// Of returns s cut to at most max bytes, on a rune boundary so the result
// stays valid UTF-8, with "…" marking a cut.
func Of(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
