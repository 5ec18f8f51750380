package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// TestStreamSalesRoute: GET /streams/:id/sales follows the purchases (with items), the counted clicks and
// the viewers that joined; its host, an admin and the shop read it, nobody else.
func TestStreamSalesRoute(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	shop := ts.token("shop", engagement.RoleService, "")
	for _, id := range []string{"p1", "p2"} {
		if r := ts.do(http.MethodPost, "/api/v1/streams/s1/products", host, product(id)); r.status != http.StatusCreated {
			t.Fatalf("add %s: %d %s", id, r.status, r.body)
		}
	}
	ann := ts.dial("s1", ts.token("ann", engagement.RoleViewer, ""))
	ann.expect("welcome")
	bob := ts.dial("s1", ts.token("bob", engagement.RoleViewer, ""))
	bob.expect("welcome")
	ann.send("product.click", "k1", map[string]string{"product_id": "p2"})
	ann.expectReply("k1")
	ann.send("product.click", "k2", map[string]string{"product_id": "p2"}) // within the minute: not counted
	ann.expectReply("k2")

	order := map[string]any{"order_id": "o1", "user_id": "ann", "stream_id": "s1",
		"paid_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		"items":   []map[string]any{{"product_id": "p2", "qty": 2, "price_fen": 9900}}}
	if r := ts.do(http.MethodPost, "/api/v1/purchases", shop, order); r.status != http.StatusCreated {
		t.Fatalf("purchase: %d %s", r.status, r.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/purchases", shop, order); r.status != http.StatusOK {
		t.Fatalf("replayed purchase: %d %s", r.status, r.body)
	}
	other := map[string]any{"order_id": "o1", "user_id": "ann", "stream_id": "s1",
		"paid_at": order["paid_at"], "items": []map[string]any{{"product_id": "p2", "qty": 3, "price_fen": 9900}}}
	if r := ts.do(http.MethodPost, "/api/v1/purchases", shop, other); r.status != http.StatusConflict {
		t.Fatalf("replay with other items: %d %s, want 409", r.status, r.body)
	}

	r := ts.do(http.MethodGet, "/api/v1/streams/s1/sales", host, nil)
	if r.status != http.StatusOK {
		t.Fatalf("sales: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if got["stream"] != "s1" || got["orders"] != float64(1) || got["buyers"] != float64(1) || got["gmv_fen"] != float64(19800) ||
		got["viewers"] != float64(2) || got["conversion"] != 0.5 {
		t.Fatalf("sales = %s", r.body)
	}
	ps, _ := got["products"].([]any)
	if len(ps) != 1 {
		t.Fatalf("products = %v", got["products"])
	}
	if p := ps[0].(map[string]any); p["product_id"] != "p2" || p["title"] != "Product p2" || p["clicks"] != float64(1) ||
		p["orders"] != float64(1) || p["units"] != float64(2) || p["gmv_fen"] != float64(19800) {
		t.Fatalf("p2 = %v", p)
	}

	for name, tt := range map[string]struct {
		token  string
		path   string
		status int
	}{
		"shop":           {shop, "/api/v1/streams/s1/sales", 200},
		"admin":          {ts.token("root", engagement.RoleAdmin, ""), "/api/v1/streams/s1/sales", 200},
		"another host":   {ts.token("host-s2", engagement.RoleHost, "s2"), "/api/v1/streams/s1/sales", 403},
		"viewer":         {ts.token("ann", engagement.RoleViewer, ""), "/api/v1/streams/s1/sales", 403},
		"no token":       {"", "/api/v1/streams/s1/sales", 401},
		"unknown stream": {shop, "/api/v1/streams/nope/sales", 404},
	} {
		t.Run(name, func(t *testing.T) {
			if r := ts.do(http.MethodGet, tt.path, tt.token, nil); r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

// TestPurchaseItemsBadInput: what POST /purchases refuses about items and paid_at.
func TestPurchaseItemsBadInput(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	shop := ts.token("shop", engagement.RoleService, "")
	item := func(qty, price any) []map[string]any {
		return []map[string]any{{"product_id": "p1", "qty": qty, "price_fen": price}}
	}
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"amount differs from items", map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": 5, "items": item(1, 100)}, "amount_fen"},
		{"no amount, no items", map[string]any{"order_id": "o1", "user_id": "ann"}, "amount_fen"},
		{"qty 0", map[string]any{"order_id": "o1", "user_id": "ann", "items": item(0, 100)}, "items"},
		{"qty 1000", map[string]any{"order_id": "o1", "user_id": "ann", "items": item(1000, 100)}, "items"},
		{"negative price", map[string]any{"order_id": "o1", "user_id": "ann", "items": item(1, -1)}, "items"},
		{"future paid_at", map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": 100, "paid_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "paid_at"},
		{"old paid_at", map[string]any{"order_id": "o1", "user_id": "ann", "amount_fen": 100, "paid_at": time.Now().AddDate(0, -3, 0).UTC().Format(time.RFC3339)}, "paid_at"},
		{"paid_at not RFC 3339", `{"order_id":"o1","user_id":"ann","amount_fen":100,"paid_at":"yesterday"}`, "paid_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(http.MethodPost, "/api/v1/purchases", shop, tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if p := r.json(t); p["code"] != "invalid" || p["field"] != tt.field {
				t.Fatalf("problem %v, want field %q", p, tt.field)
			}
		})
	}
}
