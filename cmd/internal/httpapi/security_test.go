package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
)

// TestSecurityHeaders: pages, assets, API answers and API errors all carry the browser hardening headers.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	}
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"viewer page", http.MethodGet, "/", http.StatusOK},
		{"host panel", http.MethodGet, "/host", http.StatusOK},
		{"API answer", http.MethodGet, "/api/v1/streams/s1", http.StatusOK},
		{"API problem", http.MethodGet, "/api/v1/streams/nope", http.StatusNotFound},
		{"API unauthorized", http.MethodPost, "/api/v1/streams", http.StatusUnauthorized},
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound},
		{"health", http.MethodGet, "/healthz", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, "", nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			for h, v := range want {
				if got := r.header.Get(h); got != v {
					t.Errorf("%s = %q, want %q", h, got, v)
				}
			}
			csp := r.header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "script-src *") {
				t.Errorf("Content-Security-Policy %q allows foreign or eval'd scripts", csp)
			}
		})
	}
}

// TestCORS: a preflight from an allowed origin gets the allow headers; one from a foreign origin does not,
// whether or not any origin is configured.
func TestCORS(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		origin  string
		allowed bool
	}{
		{"allowed origin", []string{"https://shop.example"}, "https://shop.example", true},
		{"foreign origin", []string{"https://shop.example"}, "https://evil.example", false},
		{"look-alike origin", []string{"https://shop.example"}, "https://shop.example.evil.example", false},
		{"scheme differs", []string{"https://shop.example"}, "http://shop.example", false},
		{"foreign origin, none configured", nil, "https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, serverOpts{origins: tt.origins})
			for _, path := range []string{"/api/v1/streams", "/api/v1/purchases"} {
				req, err := http.NewRequest(http.MethodOptions, ts.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", tt.origin)
				req.Header.Set("Access-Control-Request-Method", http.MethodPost)
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				allowOrigin := res.Header.Get("Access-Control-Allow-Origin")
				if !tt.allowed {
					if allowOrigin != "" {
						t.Fatalf("preflight %s from %s: Access-Control-Allow-Origin %q, want none", path, tt.origin, allowOrigin)
					}
					continue
				}
				if res.StatusCode >= 300 || allowOrigin != tt.origin {
					t.Fatalf("preflight %s: status %d, Access-Control-Allow-Origin %q, want %s", path, res.StatusCode, allowOrigin, tt.origin)
				}
				methods := res.Header.Get("Access-Control-Allow-Methods")
				headers := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
				if !strings.Contains(methods, http.MethodPost) || !strings.Contains(headers, "authorization") || !strings.Contains(headers, "content-type") {
					t.Fatalf("preflight %s: methods %q headers %q, want POST, authorization and content-type", path, methods, headers)
				}
			}
		})
	}
}

// lockedBuffer is a log sink safe for the server's many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTokensNeverLogged runs refused requests and a WebSocket session (kicked for flooding, which logs)
// through a server logging everything to a buffer, and finds no token in it.
func TestTokensNeverLogged(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokens, err := authtoken.NewKey([]byte("log-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	w := newAPIWorld(t, tokens, logger)
	srv := httptest.NewServer(w.e)
	t.Cleanup(srv.Close)

	viewer, _, _ := tokens.Mint("ann", "Ann", engagement.RoleViewer, "", time.Hour)
	expired, _, _ := tokens.Mint("host-s1", "Host", engagement.RoleHost, "s1", -time.Minute)
	other, _ := authtoken.NewKey([]byte("another-secret-0123456789"))
	forged, _, _ := other.Mint("host-s1", "Host", engagement.RoleHost, "s1", time.Hour)
	secrets := map[string]string{"viewer": viewer, "expired": expired, "forged": forged}

	for _, tok := range []string{expired, forged, "not-a-jwt." + forged} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/streams/s1/polls", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token: status %d, want 401", res.StatusCode)
		}
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/streams/s1?token="
	if _, res, err := websocket.DefaultDialer.Dial(wsURL+expired, nil); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("handshake with an expired token: %v, want 401", err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL+viewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Flood until kicked: the server logs the drop with the connection's details.
	go func() {
		for range 400 {
			if conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "dropping client") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "dropping client") {
		t.Fatalf("the flood was not logged; the test would prove nothing. Logs:\n%s", out)
	}
	for name, tok := range secrets {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, tok) || strings.Contains(out, sig) {
			t.Fatalf("the %s token appears in the logs:\n%s", name, out)
		}
	}
	t.Logf("tokens: %d log lines searched, no token or signature found", strings.Count(out, "\n"))
}

// TestSDKServed: the client SDK is served at /sdk/ with the right types (readable from the shops of
// KUDOS_ALLOWED_ORIGINS only: TestSDKCORS); its tests are not.
func TestSDKServed(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	for _, tt := range []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/sdk/kudos-client.js", "text/javascript", 200},
		{"/sdk/kudos-client.d.ts", "application/typescript", 200},
		{"/sdk/package.json", "application/json", 200},
		{"/sdk/test/room.test.mjs", "", 404},
	} {
		res, err := http.Get(ts.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.wantStatus {
			t.Errorf("GET %s: %d, want %d", tt.path, res.StatusCode, tt.wantStatus)
			continue
		}
		if tt.wantStatus == 200 {
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.wantType)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("GET %s: Access-Control-Allow-Origin %q with no origin configured, want none (TestSDKCORS)", tt.path, got)
			}
		}
	}
}
