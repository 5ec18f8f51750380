package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

// TestAccessLog: every request, whatever becomes of it (answered, refused by auth, unmatched, an unknown
// method, a WebSocket upgrade), leaves exactly one "http request" line with the route pattern, status,
// bytes, duration, remote and request id; the id is the client's when it is sensible, generated otherwise,
// and always returned; no token (bearer header or ?token=) and no raw path appears in the log; the
// duration histogram counts each request under its route pattern.
func TestAccessLog(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	tokens, err := authtoken.NewKey([]byte("access-log-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	svc := engagement.New(engagement.Config{Logger: logger}, engagement.NewMemoryStore(), engagement.NewMemorySink())
	reg := stream.NewRegistry(stream.Config{Logger: logger}, svc)
	promReg := prometheus.NewRegistry()
	srv := httptest.NewServer(New(Config{Service: svc, Registry: reg, Tokens: tokens, Logger: logger, Registerer: promReg, Gatherer: promReg}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		srv.Close()
	})
	host, _, _ := tokens.Mint("host-al", "Host", engagement.RoleHost, "al", time.Hour)
	viewer, _, _ := tokens.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	other, _ := authtoken.NewKey([]byte("another-secret-0123456789"))
	forged, _, _ := other.Mint("host-al", "Host", engagement.RoleHost, "al", time.Hour)

	type want struct {
		method, route string
		status        int
		id            string // the request id expected in the log and the response; "" = generated
	}
	var wants []want
	send := func(method, path, token, requestID, body string, w want) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if requestID != "" {
			req.Header.Set(HeaderRequestID, requestID)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != w.status {
			t.Fatalf("%s %s: status %d, want %d", method, path, res.StatusCode, w.status)
		}
		got := res.Header.Get(HeaderRequestID)
		if w.id != "" && got != w.id {
			t.Errorf("%s %s: response %s %q, want the client's %q", method, path, HeaderRequestID, got, w.id)
		}
		if w.id == "" {
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
				t.Errorf("%s %s: generated %s %q, want 32 hex digits", method, path, HeaderRequestID, got)
			}
			w.id = got
		}
		wants = append(wants, w)
		return res
	}

	send("GET", "/healthz", "", "trace-0af7651916cd43dd", "", want{"GET", "/healthz", 200, "trace-0af7651916cd43dd"})
	send("POST", "/api/v1/streams", host, "", `{"id":"al","title":"Show"}`, want{"POST", "/api/v1/streams", 201, ""})
	send("GET", "/api/v1/streams/al/moderation", forged, "", "", want{"GET", "/api/v1/streams/:id/moderation", 401, ""})
	send("GET", "/api/v1/streams/al?token="+viewer, "", "bad id with spaces", "", want{"GET", "/api/v1/streams/:id", 200, ""})
	send("GET", "/ws/streams/al?token="+viewer, "", "", "", want{"GET", "/ws/streams/:id", 400, ""}) // not an upgrade
	send("GET", "/no/such/page?token="+viewer, "", "", "", want{"GET", unmatchedRoute, 404, ""})
	send("BREW", "/healthz", "", "", "", want{"other", "/healthz", 405, ""})

	// A WebSocket upgrade: status 101, logged when the handler hands the socket over.
	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/streams/al?token="+viewer,
		http.Header{HeaderRequestID: {"ws-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get(HeaderRequestID); got != "ws-1" {
		t.Errorf("upgrade response %s %q, want ws-1", HeaderRequestID, got)
	}
	wants = append(wants, want{"GET", "/ws/streams/:id", 101, "ws-1"})
	if _, _, err := conn.ReadMessage(); err != nil { // the welcome: the handler has returned by now
		t.Fatal(err)
	}
	conn.Close()

	// One line per request, in order, each as wanted.
	var lines []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines = lines[:0]
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q is not JSON: %v", l, err)
			}
			if m["msg"] == "http request" {
				lines = append(lines, m)
			}
		}
		if len(lines) >= len(wants) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(lines) != len(wants) {
		t.Fatalf("%d access log lines for %d requests:\n%s", len(lines), len(wants), logs.String())
	}
	for i, w := range wants {
		l := lines[i]
		if l["method"] != w.method || l["route"] != w.route || l["status"] != float64(w.status) || l["request_id"] != w.id {
			t.Errorf("line %d: %v, want method %s route %s status %d request_id %s", i, l, w.method, w.route, w.status, w.id)
		}
		if l["remote"] != "127.0.0.1" || l["level"] != "INFO" {
			t.Errorf("line %d: remote %v level %v, want 127.0.0.1 INFO", i, l["remote"], l["level"])
		}
		if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("line %d: duration_ms %v", i, l["duration_ms"])
		}
		if b, ok := l["bytes"].(float64); !ok || (w.status != 101 && w.status != 405 && b <= 0) {
			t.Errorf("line %d: bytes %v", i, l["bytes"])
		}
	}

	// Neither a token nor any part of one, nor a raw path or query, reaches the log.
	all := logs.String()
	for name, tok := range map[string]string{"host": host, "viewer": viewer, "forged": forged} {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(all, part) {
				t.Errorf("the %s token's %q appears in the log", name, part)
			}
		}
	}
	for _, s := range []string{"token=", "/no/such/page", "/api/v1/streams/al"} {
		if strings.Contains(all, s) {
			t.Errorf("%q appears in the log", s)
		}
	}

	// The histogram: by route pattern, method and code; the unmatched path under "unmatched".
	counts := map[string]uint64{}
	families, err := promReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "kudos_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counts[labels["method"]+" "+labels["route"]+" "+labels["code"]] += m.GetHistogram().GetSampleCount()
		}
	}
	wantCounts := map[string]uint64{
		"GET /healthz 200": 1, "POST /api/v1/streams 201": 1, "GET /api/v1/streams/:id/moderation 401": 1,
		"GET /api/v1/streams/:id 200": 1, "GET /ws/streams/:id 400": 1, "GET unmatched 404": 1, "other /healthz 405": 1,
		"GET /ws/streams/:id 101": 1,
	}
	for k, n := range wantCounts {
		if counts[k] != n {
			t.Errorf("histogram %s: count %d, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	if len(counts) != len(wantCounts) {
		t.Errorf("histogram series %v, want exactly %v", counts, wantCounts)
	}
}

// TestValidRequestID: ids from proxies and tracers pass; anything that could forge or bloat a log line
// does not.
func TestValidRequestID(t *testing.T) {
	for _, id := range []string{"abc", "0af7651916cd43dd8448eb211c80319c", "req-1.2_3:4", strings.Repeat("a", 128)} {
		if !validRequestID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "a b", "a\nb", `a"b`, "ä", strings.Repeat("a", 129), "a=b"} {
		if validRequestID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}
