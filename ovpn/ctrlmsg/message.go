package ctrlmsg

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message is one parsed control message. Its String method renders the
// wire text (without the trailing NUL; see Encode).
type Message interface {
	String() string
	isMessage()
}

// PushRequest is "PUSH_REQUEST" (client to server).
type PushRequest struct{}

// PushReply is "PUSH_REPLY,opt,opt,...". The push-continuation option is
// taken out of Options and stored in Continuation (0 absent, 1 last part,
// 2 more parts follow).
type PushReply struct {
	Options      []string
	Continuation int
}

// AuthFailed is "AUTH_FAILED[,reason]". Reasons starting with "TEMP" set
// Temp (with the bracketed flags in TempFlags); "CRV1:..." reasons are
// parsed into Challenge.
type AuthFailed struct {
	Reason    string
	Temp      bool
	TempFlags string
	Challenge *Challenge
}

// AuthPending is "AUTH_PENDING[,timeout N]".
type AuthPending struct {
	Timeout  int      // seconds, 0 = not given
	Keywords []string // every keyword as sent
}

// InfoKind classifies the text of an INFO / INFO_PRE message.
type InfoKind int

// Kinds of INFO payloads.
const (
	InfoText    InfoKind = iota // anything else
	InfoWebAuth                 // WEB_AUTH:flags:url
	InfoOpenURL                 // OPEN_URL:url
	InfoCRText                  // CR_TEXT:flags:challenge text
)

// Info is "INFO,text" or "INFO_PRE,text" (Pre).
type Info struct {
	Pre   bool
	Kind  InfoKind
	Flags string // WEB_AUTH / CR_TEXT flags
	URL   string // WEB_AUTH / OPEN_URL
	Text  string // whole text for InfoText, challenge text for InfoCRText
}

// CRResponse is "CR_RESPONSE,<base64 response>" (client to server).
type CRResponse struct{ Response string }

// Restart is "RESTART[,msg]".
type Restart struct{ Reason string }

// Halt is "HALT[,msg]".
type Halt struct{ Reason string }

// Exit is "EXIT" (explicit exit notify over the control channel).
type Exit struct{}

// Unknown is any other control message, kept verbatim.
type Unknown struct{ Text string }

func (PushRequest) isMessage() {}
func (PushReply) isMessage()   {}
func (AuthFailed) isMessage()  {}
func (AuthPending) isMessage() {}
func (Info) isMessage()        {}
func (CRResponse) isMessage()  {}
func (Restart) isMessage()     {}
func (Halt) isMessage()        {}
func (Exit) isMessage()        {}
func (Unknown) isMessage()     {}

func (PushRequest) String() string { return "PUSH_REQUEST" }

func (m PushReply) String() string {
	var b strings.Builder
	b.WriteString("PUSH_REPLY")
	for _, o := range m.Options {
		b.WriteByte(',')
		b.WriteString(o)
	}
	if m.Continuation != 0 {
		fmt.Fprintf(&b, ",push-continuation %d", m.Continuation)
	}
	return b.String()
}

func (m AuthFailed) String() string {
	r := m.Reason
	if m.Challenge != nil {
		r = m.Challenge.String()
	} else if m.Temp {
		r = "TEMP"
		if m.TempFlags != "" {
			r += "[" + m.TempFlags + "]"
		}
		if m.Reason != "" {
			r += ":" + m.Reason
		}
	}
	if r == "" {
		return "AUTH_FAILED"
	}
	return "AUTH_FAILED," + r
}

func (m AuthPending) String() string {
	kw := m.Keywords
	if len(kw) == 0 && m.Timeout > 0 {
		kw = []string{"timeout " + strconv.Itoa(m.Timeout)}
	}
	if len(kw) == 0 {
		return "AUTH_PENDING"
	}
	return "AUTH_PENDING," + strings.Join(kw, ",")
}

func (m Info) String() string {
	head := "INFO,"
	if m.Pre {
		head = "INFO_PRE,"
	}
	switch m.Kind {
	case InfoWebAuth:
		return head + "WEB_AUTH:" + m.Flags + ":" + m.URL
	case InfoOpenURL:
		return head + "OPEN_URL:" + m.URL
	case InfoCRText:
		return head + "CR_TEXT:" + m.Flags + ":" + m.Text
	}
	return head + m.Text
}

func (m CRResponse) String() string {
	return "CR_RESPONSE," + base64.StdEncoding.EncodeToString([]byte(m.Response))
}

func withReason(cmd, r string) string {
	if r == "" {
		return cmd
	}
	return cmd + "," + r
}

func (m Restart) String() string { return withReason("RESTART", m.Reason) }
func (m Halt) String() string    { return withReason("HALT", m.Reason) }
func (Exit) String() string      { return "EXIT" }
func (m Unknown) String() string { return m.Text }

// Encode renders m as it travels over TLS: the text plus a NUL.
func Encode(m Message) []byte { return append([]byte(m.String()), 0) }

// MaxMessage caps the length Parse accepts (AWS PUSH_REPLY parts and CRV1
// URLs are far smaller).
const MaxMessage = 256 << 10

// cut returns the part after "cmd" when msg is exactly cmd or starts with
// "cmd,".
func cut(msg, cmd string) (rest string, ok bool) {
	if msg == cmd {
		return "", true
	}
	if strings.HasPrefix(msg, cmd+",") {
		return msg[len(cmd)+1:], true
	}
	return "", false
}

// Parse parses one control message. Trailing NULs (and a trailing newline)
// are ignored. Unknown commands yield Unknown, never an error; errors are
// returned only for malformed known messages.
func Parse(msg string) (Message, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("control message of %d bytes exceeds %d", len(msg), MaxMessage)
	}
	msg = strings.TrimRight(msg, "\x00\r\n")
	if i := strings.IndexByte(msg, 0); i >= 0 {
		return nil, fmt.Errorf("control message has a NUL byte at offset %d", i)
	}
	if msg == "PUSH_REQUEST" {
		return PushRequest{}, nil
	}
	if msg == "EXIT" {
		return Exit{}, nil
	}
	if rest, ok := cut(msg, "PUSH_REPLY"); ok {
		return parsePushReply(rest)
	}
	if rest, ok := cut(msg, "AUTH_FAILED"); ok {
		return parseAuthFailed(rest)
	}
	if rest, ok := cut(msg, "AUTH_PENDING"); ok {
		return parseAuthPending(rest)
	}
	if rest, ok := cut(msg, "INFO_PRE"); ok {
		return parseInfo(rest, true), nil
	}
	if rest, ok := cut(msg, "INFO"); ok {
		return parseInfo(rest, false), nil
	}
	if rest, ok := cut(msg, "CR_RESPONSE"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("CR_RESPONSE: response is not valid base64: %v", err)
		}
		return CRResponse{Response: string(b)}, nil
	}
	if rest, ok := cut(msg, "RESTART"); ok {
		return Restart{Reason: rest}, nil
	}
	if rest, ok := cut(msg, "HALT"); ok {
		return Halt{Reason: rest}, nil
	}
	return Unknown{Text: msg}, nil
}

func parsePushReply(rest string) (PushReply, error) {
	var r PushReply
	if rest == "" {
		return r, nil
	}
	for _, o := range SplitOptions(rest) {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if w, err := Fields(o); err == nil && len(w) > 0 && w[0] == "push-continuation" {
			if len(w) != 2 || (w[1] != "1" && w[1] != "2") {
				return r, fmt.Errorf("PUSH_REPLY: bad option %q (want push-continuation 1 or 2)", o)
			}
			r.Continuation = int(w[1][0] - '0')
			continue
		}
		r.Options = append(r.Options, o)
	}
	return r, nil
}

func parseAuthFailed(rest string) (AuthFailed, error) {
	a := AuthFailed{Reason: rest}
	switch {
	case strings.HasPrefix(rest, "CRV1:"):
		c, err := ParseCRV1(rest)
		if err != nil {
			return a, err
		}
		a.Challenge = c
	case strings.HasPrefix(rest, "TEMP"):
		a.Temp = true
		r := rest[len("TEMP"):]
		if strings.HasPrefix(r, "[") {
			end := strings.IndexByte(r, ']')
			if end < 0 {
				return a, fmt.Errorf("AUTH_FAILED,TEMP: unterminated flags in %q", rest)
			}
			a.TempFlags = r[1:end]
			r = r[end+1:]
		}
		a.Reason = strings.TrimPrefix(r, ":")
	}
	return a, nil
}

func parseAuthPending(rest string) (AuthPending, error) {
	var p AuthPending
	if rest == "" {
		return p, nil
	}
	for _, kw := range strings.Split(rest, ",") {
		kw = strings.TrimSpace(kw)
		if kw == "" {
			continue
		}
		p.Keywords = append(p.Keywords, kw)
		k, v, _ := strings.Cut(kw, " ")
		if k == "timeout" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return p, fmt.Errorf("AUTH_PENDING: bad timeout %q", v)
			}
			p.Timeout = n
		}
	}
	return p, nil
}

func parseInfo(text string, pre bool) Info {
	in := Info{Pre: pre, Text: text}
	switch {
	case strings.HasPrefix(text, "WEB_AUTH:"):
		flags, url, ok := strings.Cut(text[len("WEB_AUTH:"):], ":")
		if ok {
			in.Kind, in.Flags, in.URL, in.Text = InfoWebAuth, flags, url, ""
		}
	case strings.HasPrefix(text, "OPEN_URL:"):
		in.Kind, in.URL, in.Text = InfoOpenURL, text[len("OPEN_URL:"):], ""
	case strings.HasPrefix(text, "CR_TEXT:"):
		flags, t, ok := strings.Cut(text[len("CR_TEXT:"):], ":")
		if ok {
			in.Kind, in.Flags, in.Text = InfoCRText, flags, t
		}
	}
	return in
}

// TempHint is what an AUTH_FAILED,TEMP[flags] asks of the client.
type TempHint struct {
	// Backoff is the least wait before the next attempt (0: none given).
	Backoff time.Duration
	// Advance is "addr", "remote", "no" or "" (not given).
	Advance string
}

// maxTempBackoff bounds a server's backoff hint.
const maxTempBackoff = time.Hour

// Hint parses TempFlags ("backoff 42,advance no"); unknown keywords and
// bad values are skipped.
func (a AuthFailed) Hint() TempHint {
	var h TempHint
	for _, kw := range strings.Split(a.TempFlags, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kw), " ")
		v = strings.TrimSpace(v)
		switch k {
		case "backoff":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				h.Backoff = min(time.Duration(n)*time.Second, maxTempBackoff)
			}
		case "advance":
			if v == "addr" || v == "remote" || v == "no" {
				h.Advance = v
			}
		}
	}
	return h
}
