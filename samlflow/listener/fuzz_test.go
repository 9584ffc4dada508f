package listener

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/samlflow"
)

// FuzzServeHTTP feeds arbitrary methods, content types and bodies to the
// listener's handler. Invariants: no panic; only 200/400/405/409/413; a 200
// delivers exactly the SAMLResponse field, which decodes to a samlp:Response.
func FuzzServeHTTP(f *testing.F) {
	f.Add("POST", "application/x-www-form-urlencoded", "SAMLResponse="+url.QueryEscape(validValue))
	f.Add("POST", "application/x-www-form-urlencoded", "SAMLResponse=%%%")
	f.Add("POST", "application/x-www-form-urlencoded", "SAMLResponse=PHg%2BPC94Pg%3D%3D&RelayState=a")
	f.Add("POST", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"SAMLResponse\"\r\n\r\nQUFB\r\n--x--\r\n")
	f.Add("GET", "", "")
	f.Add("POST", "text/plain", "SAMLResponse="+base64.StdEncoding.EncodeToString([]byte("<Response/>")))
	f.Fuzz(func(t *testing.T, method, ctype, body string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			return // not a valid HTTP token; net/http would refuse the request line
		}
		l := &Listener{result: make(chan string, 1), log: discard()}
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Method = method
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		l.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			select {
			case v := <-l.result:
				if _, err := samlflow.DecodeResponse(v); err != nil {
					t.Fatalf("accepted an invalid value: %v", err)
				}
			default:
				t.Fatal("200 without a delivered value")
			}
		case 400, 405, 409, 413:
			if len(l.result) != 0 {
				t.Fatal("rejected request delivered a value")
			}
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("missing no-store")
		}
	})
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
