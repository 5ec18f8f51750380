package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// TestOpenAPIMatchesRoutes: every /api/v1 route is documented with its method, and every documented
// operation is a real route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	res := ts.do(http.MethodGet, "/api/v1/openapi.json", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET openapi.json: %d", res.status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	e := New(Config{Service: ts.svc, Registry: ts.reg, Tokens: ts.tokens})
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || !slices.Contains([]string{"GET", "POST", "PATCH", "PUT", "DELETE"}, r.Method) {
			continue
		}
		registered[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for op := range registered {
		if !documented[op] {
			t.Errorf("route %s is not in openapi.json", op)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("openapi.json documents %s, which is not a route", op)
		}
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes found; the walk over e.Routes() is broken", len(registered))
	}
}
