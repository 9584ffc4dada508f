package handler

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func script(t *testing.T, body string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "h.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{p}
}

var req = Request{ConnectionID: "cvpn-connection-1", EndpointID: "cvpn-endpoint-lab", CommonName: "client1", Username: "alice",
	Platform: "linux", PublicIP: "198.18.0.1", ClientOpenVPNVersion: "2.6.14", Groups: []string{"eng"}}

func TestCommandRequestSchemaAndAllow(t *testing.T) {
	out := filepath.Join(t.TempDir(), "req.json")
	h := &Handler{Command: script(t, `cat > `+out+`
echo '{"allow": true, "error-msg-on-denied-connection": "", "posture-compliance-statuses": ["ok"], "schema-version": "v2"}'`)}
	d := h.Call(context.Background(), req)
	if !d.Allow || d.Reason != "" || len(d.Posture) != 1 {
		t.Fatalf("decision %+v", d)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	keys := []string{"connection-id", "endpoint-id", "common-name", "username", "platform", "platform-version", "public-ip", "client-openvpn-version", "groups", "schema-version"}
	if len(got) != len(keys) {
		t.Errorf("request has %d keys, want %d: %s", len(got), len(keys), b)
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("request lacks %q: %s", k, b)
		}
	}
	if got["schema-version"] != "v2" || got["username"] != "alice" {
		t.Errorf("request %s", b)
	}
}

func TestFailureReasons(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		timeout time.Duration
		reason  string
		msg     string
	}{
		{"deny with message", `echo '{"allow": false, "error-msg-on-denied-connection": "Update your OS", "schema-version": "v2"}'`, 0, ReasonDenied, "Update your OS"},
		{"deny without message", `echo '{"allow": false}'`, 0, ReasonDenied, GenericDenial},
		{"garbage", `echo 'hello there'`, 0, ReasonInvalidResponse, GenericDenial},
		{"no allow", `echo '{"schema-version": "v2"}'`, 0, ReasonInvalidResponse, GenericDenial},
		{"message too long", `echo '{"allow": false, "error-msg-on-denied-connection": "` + strings.Repeat("x", 256) + `"}'`, 0, ReasonInvalidResponse, GenericDenial},
		{"too many statuses", `echo '{"allow": true, "posture-compliance-statuses": ["1","2","3","4","5","6","7","8","9","10","11"]}'`, 0, ReasonInvalidResponse, GenericDenial},
		{"exit status", `exit 3`, 0, ReasonOtherExecution, GenericDenial},
		{"timeout", `exec sleep 5`, 300 * time.Millisecond, ReasonTimedOut, GenericDenial},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Command: script(t, tc.body), Timeout: tc.timeout}
			start := time.Now()
			d := h.Call(context.Background(), req)
			if d.Allow || d.Reason != tc.reason || d.ClientMessage != tc.msg {
				t.Errorf("decision %+v, want reason %s message %q", d, tc.reason, tc.msg)
			}
			if tc.timeout > 0 && time.Since(start) > 3*time.Second {
				t.Errorf("timeout not enforced: %s", time.Since(start))
			}
		})
	}
	d := (&Handler{Command: []string{"/nonexistent/handler"}}).Call(context.Background(), req)
	if d.Reason != ReasonOtherExecution {
		t.Errorf("missing program: %+v", d)
	}
}

func TestURL(t *testing.T) {
	var status = http.StatusOK
	var body = `{"allow": true, "schema-version": "v2"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got Request
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&got) != nil || got.ConnectionID != req.ConnectionID {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if status == 0 {
			time.Sleep(time.Second)
		}
		if status > 0 {
			w.WriteHeader(status)
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	h := &Handler{URL: srv.URL, Timeout: 300 * time.Millisecond}
	if d := h.Call(context.Background(), req); !d.Allow {
		t.Errorf("allow: %+v", d)
	}
	for st, reason := range map[int]string{http.StatusTooManyRequests: ReasonThrottled, http.StatusBadGateway: ReasonServiceError, 0: ReasonTimedOut} {
		status = st
		if d := h.Call(context.Background(), req); d.Allow || d.Reason != reason {
			t.Errorf("status %d: %+v, want %s", st, d, reason)
		}
	}
	if d := (&Handler{}).Call(context.Background(), req); !d.Allow {
		t.Error("no handler must allow")
	}
}
