package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

func product(id string) map[string]any {
	return map[string]any{"id": id, "title": "Product " + id, "price_fen": 9900, "url": "https://shop.example/" + id}
}

func TestProductsBadInput(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	ann := ts.token("ann", engagement.RoleViewer, "")
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/products", host, product("p1")); r.status != http.StatusCreated {
		t.Fatalf("add p1: %d %s", r.status, r.body)
	}
	with := func(k string, v any) map[string]any {
		p := product("p2")
		p[k] = v
		return p
	}
	const base = "/api/v1/streams/s1/products"
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
		field  string
	}{
		{"empty id", "POST", base, host, with("id", ""), 400, "invalid", "id"},
		{"long id", "POST", base, host, with("id", strings.Repeat("a", 65)), 400, "invalid", "id"},
		{"id with a slash", "POST", base, host, with("id", "a/b"), 400, "invalid", "id"},
		{"empty title", "POST", base, host, with("title", ""), 400, "invalid", "title"},
		{"long title", "POST", base, host, with("title", strings.Repeat("鞋", 81)), 400, "invalid", "title"},
		{"javascript url", "POST", base, host, with("url", "javascript:alert(1)"), 400, "invalid", "url"},
		{"long url", "POST", base, host, with("url", "https://a.example/"+strings.Repeat("a", 2048)), 400, "invalid", "url"},
		{"http image", "POST", base, host, with("image_url", "http://a.example/x.jpg"), 400, "invalid", "image_url"},
		{"protocol-relative image", "POST", base, host, with("image_url", "//a.example/x.jpg"), 400, "invalid", "image_url"},
		{"zero price", "POST", base, host, with("price_fen", 0), 400, "invalid", "price_fen"},
		{"huge price", "POST", base, host, with("price_fen", int64(10_000_000_001)), 400, "invalid", "price_fen"},
		{"fractional price", "POST", base, host, `{"id":"p2","title":"x","price_fen":1.5,"url":"https://a.example/"}`, 400, "invalid", "price_fen"},
		{"list below price", "POST", base, host, with("list_price_fen", 100), 400, "invalid", "list_price_fen"},
		{"duplicate id", "POST", base, host, product("p1"), 409, "duplicate", ""},
		{"viewer adds", "POST", base, ann, product("p2"), 403, "forbidden", ""},
		{"no token", "POST", base, "", product("p2"), 401, "unauthorized", ""},
		{"unknown stream", "GET", "/api/v1/streams/nope/products", "", nil, 404, "not_found", ""},
		{"viewer removes", "DELETE", base + "/p1", ann, nil, 403, "forbidden", ""},
		{"remove unknown", "DELETE", base + "/nope", host, nil, 404, "not_found", ""},
		{"pin unknown", "POST", base + "/nope/pin", host, nil, 404, "not_found", ""},
		{"viewer pins", "POST", base + "/p1/pin", ann, nil, 403, "forbidden", ""},
		{"unpin unknown", "POST", base + "/nope/unpin", host, nil, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			p := r.json(t)
			if p["code"] != tt.code || (tt.field != "" && p["field"] != tt.field) {
				t.Fatalf("problem %v, want code %s field %q", p, tt.code, tt.field)
			}
		})
	}
}

func TestProductShelfRoutesAndSockets(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	shop := ts.token("shop", engagement.RoleService, "")
	for i, id := range []string{"p1", "p2", "p3"} {
		tok := host
		if i == 1 {
			tok = shop
		}
		r := ts.do(http.MethodPost, "/api/v1/streams/s1/products", tok, product(id))
		if r.status != http.StatusCreated || r.json(t)["id"] != id {
			t.Fatalf("add %s: %d %s", id, r.status, r.body)
		}
	}
	viewer := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	if w := viewer.expect("welcome").data(t); w["product"] != nil {
		t.Fatalf("welcome product before any pin: %v", w["product"])
	}

	r := ts.do(http.MethodPost, "/api/v1/streams/s1/products/p2/pin", host, nil)
	if r.status != http.StatusOK || r.json(t)["id"] != "p2" {
		t.Fatalf("pin: %d %s", r.status, r.body)
	}
	pinned := viewer.expect("product.pinned").data(t)
	if p, _ := pinned["product"].(map[string]any); p["id"] != "p2" || p["price_fen"] != float64(9900) {
		t.Fatalf("product.pinned = %v", pinned)
	}
	late := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	if w := late.expect("welcome").data(t); w["product"].(map[string]any)["id"] != "p2" {
		t.Fatalf("welcome product = %v, want p2", w["product"])
	}

	viewer.send("product.click", "k1", map[string]string{"product_id": "p2"})
	viewer.expectReply("k1")
	viewer.send("product.click", "k2", map[string]string{"product_id": "p2"})
	viewer.expectReply("k2")
	viewer.send("product.click", "k3", map[string]string{"product_id": "nope"})
	viewer.expectError("k3", engagement.CodeNotFound)
	clicks := 0
	for _, e := range ts.sink.Events() {
		if e.Type == engagement.EventProductClicked {
			clicks++
		}
	}
	if clicks != 1 {
		t.Fatalf("%d product.clicked events, want 1", clicks)
	}

	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/products/p2/unpin", host, nil); r.status != http.StatusNoContent {
		t.Fatalf("unpin: %d %s", r.status, r.body)
	}
	if d := viewer.expect("product.unpinned").data(t); d["product_id"] != "p2" {
		t.Fatalf("product.unpinned = %v", d)
	}
	if r := ts.do(http.MethodDelete, "/api/v1/streams/s1/products/p1", shop, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = ts.do(http.MethodGet, "/api/v1/streams/s1/products", "", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"id":"p2"`) || strings.Contains(string(r.body), `"id":"p1"`) ||
		strings.Index(string(r.body), `"p2"`) > strings.Index(string(r.body), `"p3"`) {
		t.Fatalf("list: %d %s, want p2 then p3", r.status, r.body)
	}
}
