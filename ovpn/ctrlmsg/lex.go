package ctrlmsg

import (
	"fmt"
	"strings"
	"unicode"
)

// SplitOptions splits the option list of a PUSH_REPLY on commas. A comma
// inside double quotes or escaped with a backslash does not split; quotes
// and escapes are kept for Fields to interpret. (OpenVPN 2.x itself splits
// on every comma, so servers should not push commas.)
func SplitOptions(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Fields splits one option into words like OpenVPN's config parser:
// whitespace separates words, double quotes group (backslash escapes
// '\\', '"' and space inside them and outside), single quotes group
// literally.
func Fields(opt string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(opt); i++ {
		c := opt[i]
		switch {
		case c == '\\':
			if i+1 >= len(opt) {
				return nil, fmt.Errorf("option %q ends with a lone backslash", opt)
			}
			i++
			cur.WriteByte(opt[i])
			inWord = true
		case c == '"' || c == '\'':
			end := -1
			for j := i + 1; j < len(opt); j++ {
				if c == '"' && opt[j] == '\\' && j+1 < len(opt) {
					cur.WriteByte(opt[j+1])
					j++
					continue
				}
				if opt[j] == c {
					end = j
					break
				}
				cur.WriteByte(opt[j])
			}
			if end < 0 {
				return nil, fmt.Errorf("option %q has an unterminated %c quote", opt, c)
			}
			i = end
			inWord = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Quote returns w ready to be one word of an option: unchanged when it
// needs no quoting, otherwise double-quoted with '\\' and '"' escaped.
// Any white space or control character is quoted: an option's ends are
// trimmed of Unicode white space (a vertical tab included) before it is
// split into words, so such a word left bare would not come back.
func Quote(w string) string {
	if !needsQuote(w) {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

func needsQuote(w string) bool {
	if w == "" {
		return true
	}
	for _, r := range w {
		if r < 0x20 || r == 0x7f || unicode.IsSpace(r) || strings.ContainsRune("\",'\\", r) {
			return true
		}
	}
	return false
}

// JoinFields builds one option from words, quoting where needed.
func JoinFields(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
