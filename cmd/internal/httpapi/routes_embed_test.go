package httpapi

import (
	"html"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestEmbedHeaders: /embed/:stream may be framed by the server itself and the origins of KUDOS_FRAME_ANCESTORS
// (and sends no X-Frame-Options), carries them to the page, and every other answer still forbids framing.
func TestEmbedHeaders(t *testing.T) {
	shops := []string{"https://shop.example", "http://127.0.0.1:5173"}
	ts := newTestServer(t, serverOpts{frameAncestors: shops})
	ts.createStream("s1")

	r := ts.do(http.MethodGet, "/embed/s1", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /embed/s1: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if want := "frame-ancestors 'self' https://shop.example http://127.0.0.1:5173"; !strings.HasSuffix(csp, want) {
		t.Errorf("embed Content-Security-Policy %q, want it to end with %q", csp, want)
	}
	if strings.Contains(csp, "'none'") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("embed Content-Security-Policy %q: want the page policy with the shops' frame-ancestors", csp)
	}
	if xfo := r.header.Values("X-Frame-Options"); len(xfo) != 0 {
		t.Errorf("embed sends X-Frame-Options %q, which would forbid every frame", xfo)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("embed lost the other hardening headers: %v", r.header)
	}
	body := string(r.body)
	meta := `<meta name="kudos-embed" content="` + html.EscapeString(`{"frame_ancestors":["https://shop.example","http://127.0.0.1:5173"]}`) + `">`
	for _, want := range []string{meta, `<link rel="stylesheet" href="/assets/embed.css">`, `id="chat-list"`, `src="/assets/viewer.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("embed page lacks %s", want)
		}
	}
	if i, j := strings.Index(body, meta), strings.Index(body, "</head>"); i < 0 || i > j {
		t.Errorf("the embed's meta tag is not in the head")
	}

	// Every other page, and the embed's own refusals, forbid framing as before.
	for _, path := range []string{"/", "/host", "/embed/Not_A_Stream", "/embed/", "/api/v1/streams/s1", "/sdk/kudos-client.js"} {
		r := ts.do(http.MethodGet, path, "", nil)
		if path == "/embed/Not_A_Stream" && r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
		if got := r.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, got)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "shop.example") {
			t.Errorf("GET %s: Content-Security-Policy %q, want frame-ancestors 'none'", path, csp)
		}
	}

	// With no frame ancestors configured, only the server's own pages may frame the room.
	bare := newTestServer(t, serverOpts{})
	r = bare.do(http.MethodGet, "/embed/s1", "", nil)
	if csp := r.header.Get("Content-Security-Policy"); r.status != http.StatusOK || !strings.HasSuffix(csp, "frame-ancestors 'self'") {
		t.Errorf("no ancestors: %d, Content-Security-Policy %q, want frame-ancestors 'self' alone", r.status, csp)
	}
	if !strings.Contains(string(r.body), html.EscapeString(`{"frame_ancestors":[]}`)) {
		t.Errorf("no ancestors: the page's settings do not carry an empty list")
	}
}

// TestSDKCORS: the SDK answers CORS (preflight and GET) for the origins of KUDOS_ALLOWED_ORIGINS only, never "*".
func TestSDKCORS(t *testing.T) {
	const shop = "https://shop.example"
	for _, tt := range []struct {
		name    string
		origins []string
		origin  string
		allowed bool
	}{
		{"listed origin", []string{shop}, shop, true},
		{"foreign origin", []string{shop}, "https://evil.example", false},
		{"look-alike origin", []string{shop}, "https://shop.example.evil.example", false},
		{"none configured", nil, shop, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, serverOpts{origins: tt.origins})
			for _, method := range []string{http.MethodOptions, http.MethodGet} {
				req, err := http.NewRequest(method, ts.URL+"/sdk/kudos-client.js", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Origin", tt.origin)
				if method == http.MethodOptions {
					req.Header.Set("Access-Control-Request-Method", http.MethodGet)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				got := res.Header.Get("Access-Control-Allow-Origin")
				if res.StatusCode >= 300 {
					t.Errorf("%s from %s: status %d", method, tt.origin, res.StatusCode)
				}
				if tt.allowed && got != tt.origin {
					t.Errorf("%s from %s: Access-Control-Allow-Origin %q, want %s", method, tt.origin, got, tt.origin)
				}
				if !tt.allowed && got != "" {
					t.Errorf("%s from %s: Access-Control-Allow-Origin %q, want none", method, tt.origin, got)
				}
				if method == http.MethodGet && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
					t.Errorf("GET: Content-Type %q", res.Header.Get("Content-Type"))
				}
			}
		})
	}
}

// TestEmbedThemeValidator runs the theme validator (static/assets/theme.js) under Node's test runner
// (testdata/theme.test.mjs). Without Node it skips, and fails under CI=true.
func TestEmbedThemeValidator(t *testing.T) {
	test, err := filepath.Abs("testdata/theme.test.mjs")
	if err != nil {
		t.Fatal(err)
	}
	out := testenv.RunNodeTests(t, testenv.Node(t, 20, 0), "", test)
	t.Logf("node --test:\n%s", out)
}
