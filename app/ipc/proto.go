package ipc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// Version is the wire protocol version every message carries.
const Version = 1

// MaxMessageSize bounds one JSON line (a profile with inline certificates is
// far smaller).
const MaxMessageSize = 4 << 20

// Message types.
const (
	// Front end to daemon.
	TypeStatus            = "status"
	TypeConnect           = "connect"
	TypeDisconnect        = "disconnect"
	TypeSubscribe         = "subscribe"
	TypeCredentialsAnswer = "credentials-answer"
	TypeUnblock           = "unblock"
	// Daemon to front end.
	TypeResponse    = "response"
	TypeEvent       = "event"
	TypeCredentials = "credentials"
	TypeEnded       = "ended"
)

// Credential question kinds.
const (
	KindUserPass  = "userpass"
	KindChallenge = "challenge"
	// KindSAML asks the front end to run the browser part of a federated
	// sign-in as the desktop user: URL is the IdP address, Answer the
	// base64 SAMLResponse its loopback listener received.
	KindSAML = "saml"
	// KindWebAuth asks the front end to show the sign-in page of an
	// OpenVPN server's pending authentication (WEB_AUTH / OPEN_URL) as the
	// desktop user: URL is the page. The answer carries nothing but an
	// error; the VPN server decides and tells the client.
	KindWebAuth = "web-auth"
)

// Error codes of failed responses.
const (
	CodeBadRequest = "bad-request" // malformed or unknown request
	CodeDenied     = "denied"      // the caller may not do this
	CodeNotFound   = "not-found"   // no such connection
	CodeRefused    = "refused"     // limit reached, routes overlap, name in use
	CodeProfile    = "profile"     // the profile text has errors
	CodeInternal   = "internal"
)

// Message is one line of the protocol. Which fields are set depends on Type.
type Message struct {
	V    int    `json:"v"`
	ID   uint64 `json:"id,omitempty"`
	Type string `json:"type"`

	// Name is the connection name (connect, disconnect, event, credentials,
	// ended).
	Name string `json:"name,omitempty"`
	// Profile is the profile text (connect): self-contained, every
	// certificate and key inline. Empty names a system profile, which the
	// daemon reads from the policy's profiles_dir.
	Profile string `json:"profile,omitempty"`
	// Bind (connect) disconnects the connection when the front end's IPC
	// connection closes (the CLI's foreground semantics).
	Bind bool `json:"bind,omitempty"`
	// All (disconnect) disconnects every connection the caller may control.
	All bool `json:"all,omitempty"`
	// BlockWhenDown (connect) blocks traffic outside the tunnel from the
	// start until the connection is ended (block_when_down).
	BlockWhenDown bool `json:"block_when_down,omitempty"`
	// NoReconnectAfterResume (connect) disconnects when the computer goes
	// to sleep, and the connection stays down after it wakes up.
	NoReconnectAfterResume bool `json:"no_reconnect_after_resume,omitempty"`

	// Response fields.
	OK          bool     `json:"ok,omitempty"`
	Code        string   `json:"code,omitempty"`
	Error       string   `json:"error,omitempty"`
	Names       []string `json:"names,omitempty"`
	Connections []Status `json:"connections,omitempty"`
	// Diagnostics answers TypeDiagnostics.
	Diagnostics *Diagnostics `json:"diagnostics,omitempty"`
	// Desktop answers TypeDesktopSession.
	Desktop *DesktopSession `json:"desktop_session,omitempty"`

	// Event is the connection event (event).
	Event *clientapi.Event `json:"event,omitempty"`
	// Result is how a connection ended (ended).
	Result *Result `json:"result,omitempty"`

	// Credential round trip fields.
	CredID   uint64 `json:"cred_id,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Reason   string `json:"reason,omitempty"` // userpass: why asked again
	Text     string `json:"text,omitempty"`   // challenge text; unblock response: what was lifted
	Echo     bool   `json:"echo,omitempty"`   // challenge: answer may be shown
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Answer   string `json:"answer,omitempty"`
	URL      string `json:"url,omitempty"` // saml: the IdP sign-in address; web-auth: the server's page
}

// LogValue describes the message without profile text or secrets.
func (m Message) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("type", m.Type)}
	if m.ID != 0 {
		attrs = append(attrs, slog.Uint64("id", m.ID))
	}
	if m.Name != "" {
		attrs = append(attrs, slog.String("name", m.Name))
	}
	if m.CredID != 0 {
		attrs = append(attrs, slog.Uint64("cred_id", m.CredID))
	}
	if m.Error != "" {
		attrs = append(attrs, slog.String("error", m.Error))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue as text, so that printing a Message never shows secrets.
func (m Message) String() string { return m.LogValue().String() }

// Result is how a connection ended.
type Result struct {
	// Reason is a human sentence: "disconnected by request" or the error.
	Reason string `json:"reason"`
	// Requested is true when a disconnect request ended it (exit status 0).
	Requested bool `json:"requested,omitempty"`
	// AuthFailed is true when the server refused the credentials (exit
	// status 3).
	AuthFailed bool `json:"auth_failed,omitempty"`
}

// Status describes one connection of the daemon.
type Status struct {
	Name string `json:"name"`
	// OwnerUID is the user that started the connection (-1 on Windows);
	// Owner is its user name when known.
	OwnerUID   int             `json:"owner_uid"`
	Owner      string          `json:"owner,omitempty"`
	State      clientapi.State `json:"state"`
	TunnelIPv4 string          `json:"tunnel_ipv4,omitempty"`
	TunnelIPv6 string          `json:"tunnel_ipv6,omitempty"`
	Interface  string          `json:"interface,omitempty"`
	Server     string          `json:"server,omitempty"`
	Cipher     string          `json:"cipher,omitempty"`
	BytesIn    uint64          `json:"bytes_in"`
	BytesOut   uint64          `json:"bytes_out"`
	// Started is when the connect request arrived; ConnectedAt when the
	// tunnel last came up (zero while not connected).
	Started     time.Time `json:"started"`
	ConnectedAt time.Time `json:"connected_at,omitzero"`
	// DurationSeconds is how long the tunnel has been up, by the daemon's
	// clock at the time of the status request.
	DurationSeconds int64 `json:"duration_seconds"`
	// Routes are the tunnel routes in effect (after connecting) or known
	// from the profile (before).
	Routes     []string `json:"routes,omitempty"`
	FullTunnel bool     `json:"full_tunnel,omitempty"`
	// Blocked is the mode ("full" or "split") of the connection's block of
	// traffic outside the tunnel (block_when_down), empty when none holds.
	Blocked string `json:"blocked,omitempty"`
	// DNS is true when this connection set the OS DNS servers.
	DNS bool `json:"dns,omitempty"`
	// Managed is true for a connection the administrator's policy starts
	// and keeps up (autoconnect): everyone sees it, admins control it.
	Managed bool `json:"managed,omitempty"`
}

// Error is a failed response from the daemon.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the daemon's error code of err ("" when err is not an
// *Error).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// encoder writes messages as JSON lines.
type encoder struct {
	w io.Writer
}

func (e encoder) write(m *Message) error {
	m.V = Version
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("ipc: encode %s message: %w", m.Type, err)
	}
	if len(b) >= MaxMessageSize {
		return fmt.Errorf("ipc: %s message of %d bytes exceeds the limit of %d", m.Type, len(b), MaxMessageSize)
	}
	b = append(b, '\n')
	_, err = e.w.Write(b)
	return err
}

// decoder reads JSON lines.
type decoder struct {
	s    *bufio.Scanner
	peer string
	line int
}

func newDecoder(r io.Reader, peer string) *decoder {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), MaxMessageSize)
	return &decoder{s: s, peer: peer}
}

// read returns the next message; io.EOF at the end. A message of another
// protocol version is an error naming the peer and the line.
func (d *decoder) read() (*Message, error) {
	if !d.s.Scan() {
		if err := d.s.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, fmt.Errorf("ipc: %s: message %d longer than %d bytes", d.peer, d.line+1, MaxMessageSize)
			}
			return nil, fmt.Errorf("ipc: %s: %w", d.peer, err)
		}
		return nil, io.EOF
	}
	d.line++
	var m Message
	if err := json.Unmarshal(d.s.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("ipc: %s: message %d: %v", d.peer, d.line, err)
	}
	if m.V != Version {
		return &m, fmt.Errorf("ipc: %s: message %d: protocol version %d, this side speaks %d", d.peer, d.line, m.V, Version)
	}
	if m.Type == "" {
		return &m, fmt.Errorf("ipc: %s: message %d: no type", d.peer, d.line)
	}
	return &m, nil
}
