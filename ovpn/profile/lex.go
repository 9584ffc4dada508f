package profile

import (
	"bytes"
	"strings"
)

// item is one logical entry of a profile: a directive line or an inline
// block such as <ca>...</ca>.
type item struct {
	line   int      // first line
	args   []string // args[0] is the directive name; for blocks only the tag
	inline bool     // a <tag> block
	body   string   // block content, lines joined with "\n" and a final "\n"
}

// lexer splits profile text into items and reports syntax problems.
type lexer struct {
	lines []string
	diag  func(line int, sev Severity, format string, a ...any)
}

// splitLines removes a UTF-8 byte order mark, splits on "\n" and drops a
// trailing "\r" from every line (files from Windows).
func splitLines(data []byte) []string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

func (lx *lexer) items() []item {
	var out []item
	for i := 0; i < len(lx.lines); i++ {
		lineNo := i + 1
		raw := lx.lines[i]
		trimmed := strings.TrimSpace(raw)
		if tag, ok := openTag(trimmed); ok {
			end := -1
			closing := "</" + tag + ">"
			for j := i + 1; j < len(lx.lines); j++ {
				if strings.TrimSpace(lx.lines[j]) == closing {
					end = j
					break
				}
			}
			if end < 0 {
				lx.diag(lineNo, SeverityError, "inline block <%s> is not terminated: add a line %s after its content", tag, closing)
				return out
			}
			var b strings.Builder
			for _, l := range lx.lines[i+1 : end] {
				b.WriteString(l)
				b.WriteByte('\n')
			}
			out = append(out, item{line: lineNo, args: []string{tag}, inline: true, body: b.String()})
			i = end
			continue
		}
		if tag, ok := closeTag(trimmed); ok {
			lx.diag(lineNo, SeverityError, "%s without a matching <%s> line", trimmed, tag)
			continue
		}
		args, err := tokenize(raw)
		if err != "" {
			lx.diag(lineNo, SeverityError, "%s", err)
			continue
		}
		if len(args) == 0 {
			continue
		}
		// Options may be written with the command-line "--" prefix.
		if strings.HasPrefix(args[0], "--") && len(args[0]) > 2 {
			args[0] = args[0][2:]
		}
		out = append(out, item{line: lineNo, args: args})
	}
	return out
}

func openTag(s string) (string, bool) {
	if len(s) < 3 || s[0] != '<' || s[len(s)-1] != '>' || s[1] == '/' {
		return "", false
	}
	tag := s[1 : len(s)-1]
	if !isTagName(tag) {
		return "", false
	}
	return tag, true
}

func closeTag(s string) (string, bool) {
	if len(s) < 4 || !strings.HasPrefix(s, "</") || s[len(s)-1] != '>' {
		return "", false
	}
	tag := s[2 : len(s)-1]
	if !isTagName(tag) {
		return "", false
	}
	return tag, true
}

func isTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// tokenize splits one line the way OpenVPN does: whitespace separates
// tokens; a token starting with '#' or ';' starts a comment; a backslash
// escapes the next character outside single quotes; double quotes group
// whitespace (backslash escapes still apply); single quotes group
// everything literally. It returns an error message for an unterminated
// quote.
func tokenize(line string) ([]string, string) {
	const (
		stInitial = iota
		stUnquoted
		stDouble
		stSingle
	)
	var (
		args      []string
		cur       []byte
		state     = stInitial
		backslash bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !backslash && c == '\\' && state != stSingle {
			backslash = true
			if state == stInitial {
				state = stUnquoted
				cur = cur[:0]
			}
			continue
		}
		switch state {
		case stInitial:
			if isSpace(c) {
				break
			}
			if !backslash && (c == '#' || c == ';') {
				return args, ""
			}
			cur = cur[:0]
			switch {
			case !backslash && c == '"':
				state = stDouble
			case !backslash && c == '\'':
				state = stSingle
			default:
				cur = append(cur, c)
				state = stUnquoted
			}
		case stUnquoted:
			if !backslash && isSpace(c) {
				args = append(args, string(cur))
				state = stInitial
			} else {
				cur = append(cur, c)
			}
		case stDouble:
			if !backslash && c == '"' {
				args = append(args, string(cur))
				state = stInitial
			} else {
				cur = append(cur, c)
			}
		case stSingle:
			if c == '\'' {
				args = append(args, string(cur))
				state = stInitial
			} else {
				cur = append(cur, c)
			}
		}
		backslash = false
	}
	switch state {
	case stUnquoted:
		if !(backslash && len(cur) == 0) {
			args = append(args, string(cur))
		}
	case stDouble:
		return nil, `no closing double quote (") on this line`
	case stSingle:
		return nil, `no closing single quote (') on this line`
	}
	return args, ""
}

// quoteArg returns s written so that tokenize reads it back unchanged.
func quoteArg(s string) string {
	if s == "" {
		return `""`
	}
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) || c == '"' || c == '\'' || c == '\\' || c < 0x20 || c == 0x7f {
			plain = false
			break
		}
	}
	if plain && s[0] != '#' && s[0] != ';' {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}
