package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// DefaultTimeout is the AWS client connect handler timeout.
const DefaultTimeout = 30 * time.Second

// SchemaVersion is the request and response schema version.
const SchemaVersion = "v2"

// Limits of a valid response.
const (
	MaxDenyMessage   = 255
	MaxPostureStatus = 10
	maxResponse      = 64 << 10
)

// GenericDenial is the message a client gets when the handler gave no
// valid answer.
const GenericDenial = "Error establishing connection. Please contact your administrator."

// Failure reasons (connection log).
const (
	ReasonDenied          = "client-connect-failed"
	ReasonTimedOut        = "client-connect-handler-timed-out"
	ReasonOtherExecution  = "client-connect-handler-other-execution-error"
	ReasonThrottled       = "client-connect-handler-throttled"
	ReasonInvalidResponse = "client-connect-handler-invalid-response"
	ReasonServiceError    = "client-connect-handler-service-error"
)

// Request is the JSON the handler receives.
type Request struct {
	ConnectionID         string   `json:"connection-id"`
	EndpointID           string   `json:"endpoint-id"`
	CommonName           string   `json:"common-name"`
	Username             string   `json:"username"`
	Platform             string   `json:"platform"`
	PlatformVersion      string   `json:"platform-version"`
	PublicIP             string   `json:"public-ip"`
	ClientOpenVPNVersion string   `json:"client-openvpn-version"`
	Groups               []string `json:"groups"`
	SchemaVersion        string   `json:"schema-version"`
}

// Response is the JSON the handler answers with.
type Response struct {
	Allow         *bool    `json:"allow"`
	DenyMessage   string   `json:"error-msg-on-denied-connection"`
	Posture       []string `json:"posture-compliance-statuses"`
	SchemaVersion string   `json:"schema-version"`
}

// Decision is the outcome of one call.
type Decision struct {
	Allow bool
	// ClientMessage is sent to a denied client in AUTH_FAILED.
	ClientMessage string
	// Reason is the connection-log failure reason ("" when allowed).
	Reason string
	// Posture are the posture compliance statuses of the response.
	Posture []string
	// Detail explains a failure for the server log.
	Detail string
}

// Handler calls a command or a URL. The zero value with neither set allows
// everything.
type Handler struct {
	Command []string
	URL     string
	Timeout time.Duration // DefaultTimeout when zero
	Client  *http.Client  // http.DefaultClient's settings when nil
}

// Enabled reports whether a handler is configured.
func (h *Handler) Enabled() bool { return h != nil && (len(h.Command) > 0 || h.URL != "") }

// Call runs the handler for req.
func (h *Handler) Call(ctx context.Context, req Request) Decision {
	if !h.Enabled() {
		return Decision{Allow: true}
	}
	req.SchemaVersion = SchemaVersion
	if req.Groups == nil {
		req.Groups = []string{}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(ReasonOtherExecution, err.Error())
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out []byte
	var d Decision
	if len(h.Command) > 0 {
		out, d = h.runCommand(ctx, body, timeout)
	} else {
		out, d = h.post(ctx, body, timeout)
	}
	if d.Reason != "" {
		return d
	}
	return ParseResponse(out)
}

func fail(reason, detail string) Decision {
	return Decision{ClientMessage: GenericDenial, Reason: reason, Detail: detail}
}

func (h *Handler) runCommand(ctx context.Context, body []byte, timeout time.Duration) ([]byte, Decision) {
	cmd := exec.CommandContext(ctx, h.Command[0], h.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxResponse, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fail(ReasonTimedOut, fmt.Sprintf("%s did not answer within %s", h.Command[0], timeout))
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fail(ReasonOtherExecution, fmt.Sprintf("%s: %v %s", h.Command[0], err, msg))
	}
	if stdout.over {
		return nil, fail(ReasonInvalidResponse, fmt.Sprintf("%s printed more than %d bytes", h.Command[0], maxResponse))
	}
	return stdout.Bytes(), Decision{}
}

func (h *Handler) post(ctx context.Context, body []byte, timeout time.Duration) ([]byte, Decision) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fail(ReasonOtherExecution, err.Error())
	}
	hreq.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{}
	}
	resp, err := c.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return nil, fail(ReasonTimedOut, fmt.Sprintf("%s did not answer within %s", h.URL, timeout))
		}
		return nil, fail(ReasonServiceError, err.Error())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail(ReasonTimedOut, fmt.Sprintf("%s did not answer within %s", h.URL, timeout))
		}
		return nil, fail(ReasonServiceError, err.Error())
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, fail(ReasonThrottled, h.URL+": "+resp.Status)
	case resp.StatusCode >= 500:
		return nil, fail(ReasonServiceError, h.URL+": "+resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fail(ReasonOtherExecution, h.URL+": "+resp.Status)
	}
	if len(out) > maxResponse {
		return nil, fail(ReasonInvalidResponse, fmt.Sprintf("%s answered more than %d bytes", h.URL, maxResponse))
	}
	return out, Decision{}
}

// ParseResponse validates a handler's answer.
func ParseResponse(out []byte) Decision {
	var r Response
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&r); err != nil {
		return fail(ReasonInvalidResponse, "response is not a JSON object: "+err.Error())
	}
	if dec.More() {
		return fail(ReasonInvalidResponse, "response has data after the JSON object")
	}
	switch {
	case r.Allow == nil:
		return fail(ReasonInvalidResponse, `response lacks the boolean "allow"`)
	case r.SchemaVersion != "" && r.SchemaVersion != SchemaVersion && r.SchemaVersion != "v1":
		return fail(ReasonInvalidResponse, fmt.Sprintf("unknown schema-version %q", r.SchemaVersion))
	case len([]rune(r.DenyMessage)) > MaxDenyMessage:
		return fail(ReasonInvalidResponse, fmt.Sprintf("error-msg-on-denied-connection longer than %d characters", MaxDenyMessage))
	case len(r.Posture) > MaxPostureStatus:
		return fail(ReasonInvalidResponse, fmt.Sprintf("more than %d posture-compliance-statuses", MaxPostureStatus))
	}
	if !*r.Allow {
		msg := r.DenyMessage
		if msg == "" {
			msg = GenericDenial
		}
		return Decision{ClientMessage: msg, Reason: ReasonDenied, Posture: r.Posture, Detail: "denied by the client connect handler"}
	}
	return Decision{Allow: true, Posture: r.Posture}
}

// limitedBuffer keeps at most max bytes and notes an overflow.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		b.over = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
