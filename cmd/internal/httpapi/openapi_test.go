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

// TestOpenAPIMatchesRoutes: every /api/v1 route of API.routes is documented with its method and, when it
// takes a bearer token, with bearer security; every documented operation is a listed route; and New
// mounts exactly the routes listed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	res := ts.do(http.MethodGet, "/api/v1/openapi.json", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET openapi.json: %d", res.status)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	// documented maps "METHOD /path/{param}" to whether the operation declares bearer security.
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = len(op.Security) > 0
		}
	}

	cfg := Config{Service: ts.svc, Registry: ts.reg, Tokens: ts.tokens}
	listed := map[string]bool{}     // every route of API.routes, "METHOD /path"
	registered := map[string]bool{} // the /api/v1 ones in OpenAPI syntax, to whether they need a token
	for _, r := range newAPI(cfg).routes() {
		op := r.method + " " + r.path
		if listed[op] {
			t.Errorf("route %s is listed twice", op)
		}
		listed[op] = true
		if strings.HasPrefix(r.path, apiPrefix+"/") {
			registered[r.method+" "+echoParam.ReplaceAllString(r.path, "{$1}")] = r.access != anyone
		}
	}
	mounted := map[string]bool{}
	for _, r := range New(cfg).Routes() {
		if !slices.Contains([]string{"GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"}, r.Method) {
			continue // echo's own not-found routes of the group
		}
		op := r.Method + " " + r.Path
		mounted[op] = true
		if !listed[op] {
			t.Errorf("route %s is mounted but not listed in API.routes", op)
		}
	}
	for op := range listed {
		if !mounted[op] {
			t.Errorf("route %s is listed in API.routes but not mounted", op)
		}
	}

	for op, needsToken := range registered {
		secured, ok := documented[op]
		switch {
		case !ok:
			t.Errorf("route %s is not in openapi.json", op)
		case secured != needsToken:
			t.Errorf("route %s: bearer token required %v, openapi.json declares security %v", op, needsToken, secured)
		}
	}
	for op := range documented {
		if _, ok := registered[op]; !ok {
			t.Errorf("openapi.json documents %s, which is not a route", op)
		}
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes found; the walk over API.routes is broken", len(registered))
	}
}
