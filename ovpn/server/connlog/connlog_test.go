package connlog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestEntryFields(t *testing.T) {
	start := time.Date(2020, 3, 26, 20, 37, 15, 0, time.UTC)
	r := Record{Type: TypeAttempt, AttemptStatus: StatusSuccessful, ConnectionID: "cvpn-connection-abc123abc123abc12",
		EndpointID: "cvpn-endpoint-aaa111bbb222ccc33", Transport: "udp", Start: start, LastUpdate: start.Add(time.Minute),
		ClientIP: netip.MustParseAddr("10.0.1.2"), CommonName: "client1", DeviceType: "mac",
		Device: netip.MustParseAddrPort("[::ffff:98.247.202.82]:2239"), IngressBytes: 12, EgressBytes: 34,
		IngressPackets: 1, EgressPackets: 2, Username: "joe"}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("not one JSON line: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"connection-log-type": "connection-attempt", "connection-attempt-status": "successful", "connection-reset-status": "NA",
		"connection-attempt-failure-reason": "NA", "connection-id": "cvpn-connection-abc123abc123abc12",
		"client-vpn-endpoint-id": "cvpn-endpoint-aaa111bbb222ccc33", "transport-protocol": "udp",
		"connection-start-time": "2020-03-26 20:37:15", "connection-last-update-time": "2020-03-26 20:38:15",
		"client-ip": "10.0.1.2", "common-name": "client1", "device-type": "mac", "device-ip": "98.247.202.82", "port": "02239",
		"ingress-bytes": "12", "egress-bytes": "34", "ingress-packets": "1", "egress-packets": "2",
		"connection-end-time": "NA", "posture-compliance-statuses": "NA", "username": "joe",
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %q", k, got[k], v)
		}
	}
	// Key order follows the AWS log.
	if !strings.HasPrefix(line, `{"connection-log-type":"connection-attempt","connection-attempt-status":"successful","connection-reset-status":"NA"`) {
		t.Errorf("key order: %s", line)
	}
}

func TestUnknownIsNA(t *testing.T) {
	e := Record{}.Entry()
	for _, v := range []string{e.Type, e.ClientIP, e.DeviceIP, e.Port, e.StartTime, e.EndTime, e.CommonName, e.Username, e.Posture} {
		if v != NA {
			t.Errorf("unknown value %q, want NA", v)
		}
	}
	if e.IngressBytes != "0" {
		t.Errorf("counters start at %q", e.IngressBytes)
	}
	if (*Writer)(nil).Write(Record{}) != nil {
		t.Error("nil writer fails")
	}
}
