package profile

import (
	"strings"
)

// Serialize writes a self-contained profile: every directive in order,
// referenced files written as inline blocks, comments dropped. The
// credentials file of "auth-user-pass FILE" is never copied (the directive
// is written without it). A tls-auth direction given on the tls-auth line
// becomes a key-direction line. Parsing the output gives the same model.
func Serialize(p *Profile) []byte {
	var b strings.Builder
	hasKeyDir := false
	for _, d := range p.Directives {
		if d.Name == "key-direction" {
			hasKeyDir = true
		}
	}
	for _, d := range p.Directives {
		switch {
		case d.Inline:
			if d.Name == "tls-auth" && len(d.Args) == 2 && !hasKeyDir {
				b.WriteString("key-direction " + quoteArg(d.Args[1]) + "\n")
			}
			b.WriteString("<" + d.Name + ">\n")
			// A line equal to the closing tag would end the block early.
			closing := "</" + d.Name + ">"
			body := strings.TrimSuffix(strings.ReplaceAll(d.Body, "\r\n", "\n"), "\n")
			for _, l := range strings.Split(body, "\n") {
				if strings.TrimSpace(l) == closing {
					continue
				}
				b.WriteString(l + "\n")
			}
			b.WriteString(closing + "\n")
		case d.Name == "auth-user-pass":
			b.WriteString("auth-user-pass\n")
		default:
			b.WriteString(formatDirective(d.Name, d.Args))
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

func formatDirective(name string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, quoteArg(name))
	for _, a := range args {
		parts = append(parts, quoteArg(a))
	}
	return strings.Join(parts, " ")
}
