package connlog

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Log types and statuses.
const (
	TypeAttempt = "connection-attempt"
	TypeReset   = "connection-reset"

	StatusSuccessful          = "successful"
	StatusFailed              = "failed"
	StatusWaitingForAssertion = "waiting-for-assertion"
	NA                        = "NA"

	ResetAssertionReceived = "assertion-received"
)

// TimeLayout is the AWS connection log time format.
const TimeLayout = "2006-01-02 15:04:05"

// Entry is one connection log record. Field order matches the AWS log.
type Entry struct {
	Type           string `json:"connection-log-type"`
	AttemptStatus  string `json:"connection-attempt-status"`
	ResetStatus    string `json:"connection-reset-status"`
	FailureReason  string `json:"connection-attempt-failure-reason"`
	ConnectionID   string `json:"connection-id"`
	EndpointID     string `json:"client-vpn-endpoint-id"`
	Transport      string `json:"transport-protocol"`
	StartTime      string `json:"connection-start-time"`
	LastUpdateTime string `json:"connection-last-update-time"`
	ClientIP       string `json:"client-ip"`
	CommonName     string `json:"common-name"`
	DeviceType     string `json:"device-type"`
	DeviceIP       string `json:"device-ip"`
	Port           string `json:"port"`
	IngressBytes   string `json:"ingress-bytes"`
	EgressBytes    string `json:"egress-bytes"`
	IngressPackets string `json:"ingress-packets"`
	EgressPackets  string `json:"egress-packets"`
	EndTime        string `json:"connection-end-time"`
	Posture        string `json:"posture-compliance-statuses"`
	Username       string `json:"username"`
}

// Record is what the server knows about a connection; Entry renders it.
type Record struct {
	Type                          string
	AttemptStatus                 string
	ResetStatus                   string
	FailureReason                 string
	ConnectionID                  string
	EndpointID                    string
	Transport                     string // udp | tcp
	Start                         time.Time
	LastUpdate                    time.Time
	End                           time.Time
	ClientIP                      netip.Addr // tunnel address
	CommonName                    string
	DeviceType                    string
	Device                        netip.AddrPort // public address and port
	IngressBytes, EgressBytes     uint64
	IngressPackets, EgressPackets uint64
	Posture                       []string
	Username                      string
}

// FormatTime renders t in the AWS layout (UTC), "NA" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return NA
	}
	return t.UTC().Format(TimeLayout)
}

func orNA(s string) string {
	if s == "" {
		return NA
	}
	return s
}

// Entry renders the record.
func (r Record) Entry() Entry {
	e := Entry{
		Type: orNA(r.Type), AttemptStatus: orNA(r.AttemptStatus), ResetStatus: orNA(r.ResetStatus),
		FailureReason: orNA(r.FailureReason), ConnectionID: orNA(r.ConnectionID), EndpointID: orNA(r.EndpointID),
		Transport: orNA(r.Transport), StartTime: FormatTime(r.Start), LastUpdateTime: FormatTime(r.LastUpdate),
		ClientIP: NA, CommonName: orNA(r.CommonName), DeviceType: orNA(r.DeviceType), DeviceIP: NA, Port: NA,
		IngressBytes: strconv.FormatUint(r.IngressBytes, 10), EgressBytes: strconv.FormatUint(r.EgressBytes, 10),
		IngressPackets: strconv.FormatUint(r.IngressPackets, 10), EgressPackets: strconv.FormatUint(r.EgressPackets, 10),
		EndTime: FormatTime(r.End), Posture: NA, Username: orNA(r.Username),
	}
	if r.ClientIP.IsValid() {
		e.ClientIP = r.ClientIP.String()
	}
	if r.Device.IsValid() {
		e.DeviceIP = r.Device.Addr().Unmap().String()
		e.Port = fmt.Sprintf("%05d", r.Device.Port())
	}
	if len(r.Posture) > 0 {
		e.Posture = strings.Join(r.Posture, ",")
	}
	return e
}

// Writer appends entries to an io.Writer, one JSON line each. It is safe
// for concurrent use. A nil *Writer discards entries.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write appends the record.
func (w *Writer) Write(r Record) error {
	if w == nil {
		return nil
	}
	b, err := json.Marshal(r.Entry())
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(b)
	return err
}
