package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// couponWorld is a server on a clock the test moves, stream s1 and a drop of two shop codes (满 ¥100 减 ¥20)
// that ann and bob have claimed.
type couponWorld struct {
	ts               *testServer
	skew             *atomic.Int64 // nanoseconds added to the service's clock
	host, shop, ann  string
	admin            string
	couponID         string
	annCode, bobCode string
}

func newCouponWorld(t *testing.T) *couponWorld {
	t.Helper()
	skew := new(atomic.Int64)
	ts := newTestServer(t, serverOpts{svcCfg: engagement.Config{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}})
	ts.createStream("s1")
	w := &couponWorld{
		ts: ts, skew: skew,
		host: ts.token("host-s1", engagement.RoleHost, "s1"), shop: ts.token("shop", engagement.RoleService, ""),
		ann: ts.token("ann", engagement.RoleViewer, ""), admin: ts.token("root", engagement.RoleAdmin, ""),
	}
	res := ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", w.host, map[string]any{
		"title": "满100减20", "expires_s": 600, "discount_fen": 2000, "min_spend_fen": 10000, "codes": []string{"SPRING-A1", "SPRING-B2"},
	})
	if res.status != http.StatusCreated {
		t.Fatalf("drop coupon: %d %s", res.status, res.body)
	}
	c := res.json(t)
	if c["stock"] != float64(2) || c["discount_fen"] != float64(2000) || c["min_spend_fen"] != float64(10000) {
		t.Fatalf("coupon = %v", c)
	}
	w.couponID = c["id"].(string)
	w.annCode = w.claim(t, "ann")
	w.bobCode = w.claim(t, "bob")
	if w.annCode != "SPRING-A1" || w.bobCode != "SPRING-B2" {
		t.Fatalf("claims got %q and %q, want the shop's codes in order", w.annCode, w.bobCode)
	}
	return w
}

func (w *couponWorld) claim(t *testing.T, user string) string {
	t.Helper()
	out, err := w.ts.svc.ClaimCoupon(context.Background(), engagement.Actor{User: user, Role: engagement.RoleViewer}, "s1", w.couponID)
	if err != nil {
		t.Fatalf("%s claims: %v", user, err)
	}
	return out.Reply["code"].(string)
}

func codePath(code string) string { return "/api/v1/coupons/codes/" + code }

// TestCouponCodeLookupAndRedeem: the shop looks a claimed code up and redeems it once; a replay by the same
// order gets the same body; another order is a conflict naming the first; the event carries no code.
func TestCouponCodeLookupAndRedeem(t *testing.T) {
	w := newCouponWorld(t)
	ts := w.ts
	res := ts.do(http.MethodGet, codePath(w.annCode), w.shop, nil)
	if res.status != http.StatusOK {
		t.Fatalf("lookup: %d %s", res.status, res.body)
	}
	got := res.json(t)
	want := map[string]any{
		"code": "SPRING-A1", "coupon_id": w.couponID, "stream_id": "s1", "user_id": "ann",
		"discount_fen": float64(2000), "min_spend_fen": float64(10000), "status": "claimed",
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("lookup %s = %v, want %v (body %s)", k, got[k], v, res.body)
		}
	}
	if _, err := time.Parse(time.RFC3339, got["expires_at"].(string)); err != nil {
		t.Fatalf("expires_at: %v", err)
	}
	if _, ok := got["order_id"]; ok {
		t.Fatalf("unredeemed code has an order: %s", res.body)
	}

	first := ts.do(http.MethodPost, codePath(w.annCode)+"/redeem", w.shop, map[string]any{"order_id": "order-1"})
	if first.status != http.StatusOK {
		t.Fatalf("redeem: %d %s", first.status, first.body)
	}
	red := first.json(t)
	if red["status"] != "redeemed" || red["order_id"] != "order-1" || red["redeemed_at"] == nil || red["code"] != "SPRING-A1" {
		t.Fatalf("redeemed = %s", first.body)
	}
	again := ts.do(http.MethodPost, codePath(w.annCode)+"/redeem", w.admin, map[string]any{"order_id": "order-1"})
	if again.status != http.StatusOK || string(again.body) != string(first.body) {
		t.Fatalf("replay: %d %s, want 200 %s", again.status, again.body, first.body)
	}
	other := ts.do(http.MethodPost, codePath(w.annCode)+"/redeem", w.shop, map[string]any{"order_id": "order-2"})
	if p := other.json(t); other.status != http.StatusConflict || p["code"] != "conflict" || !strings.Contains(p["detail"].(string), "order-1") {
		t.Fatalf("another order: %d %s, want 409 conflict naming order-1", other.status, other.body)
	}
	if look := ts.do(http.MethodGet, codePath(w.annCode), w.shop, nil).json(t); look["status"] != "redeemed" || look["order_id"] != "order-1" {
		t.Fatalf("lookup after redeem = %v", look)
	}

	var redeemed []engagement.Event
	for _, ev := range ts.sink.Events() {
		if ev.Type == engagement.EventCouponRedeemed {
			redeemed = append(redeemed, ev)
		}
	}
	if len(redeemed) == 0 || redeemed[0].UserID != "ann" || redeemed[0].Key() != "ann" || redeemed[0].Subject != "s1" {
		t.Fatalf("coupon.redeemed events = %+v", redeemed)
	}
	for _, ev := range redeemed {
		if ev.ID != redeemed[0].ID || strings.Contains(string(ev.Data), "SPRING") || !strings.Contains(string(ev.Data), `"order_id":"order-1"`) {
			t.Fatalf("coupon.redeemed = %+v (%s)", ev, ev.Data)
		}
	}
}

// TestCouponCodeBadInput: every refusal of the two routes, with its status and code.
func TestCouponCodeBadInput(t *testing.T) {
	w := newCouponWorld(t)
	ts := w.ts
	// Bob's code expires with the drop (600 s after it reached viewers).
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      engagement.Code
		field                     string
	}{
		{"lookup without a token", "GET", codePath(w.annCode), "", nil, 401, engagement.CodeUnauthorized, ""},
		{"lookup by a viewer", "GET", codePath(w.annCode), w.ann, nil, 403, engagement.CodeForbidden, ""},
		{"lookup by the host", "GET", codePath(w.annCode), w.host, nil, 403, engagement.CodeForbidden, ""},
		{"lookup of an unknown code", "GET", codePath("NOPE-NOPE"), w.shop, nil, 404, engagement.CodeNotFound, ""},
		{"lookup of a lowercase code", "GET", codePath("spring-a1"), w.shop, nil, 404, engagement.CodeNotFound, ""},
		{"lookup of a malformed code", "GET", codePath("A%20B%7BC"), w.shop, nil, 404, engagement.CodeNotFound, ""},
		{"lookup of a too long code", "GET", codePath(strings.Repeat("A", 33)), w.shop, nil, 404, engagement.CodeNotFound, ""},
		{"redeem without a token", "POST", codePath(w.annCode) + "/redeem", "", map[string]any{"order_id": "o"}, 401, engagement.CodeUnauthorized, ""},
		{"redeem by a viewer", "POST", codePath(w.annCode) + "/redeem", w.ann, map[string]any{"order_id": "o"}, 403, engagement.CodeForbidden, ""},
		{"redeem by the host", "POST", codePath(w.annCode) + "/redeem", w.host, map[string]any{"order_id": "o"}, 403, engagement.CodeForbidden, ""},
		{"redeem an unknown code", "POST", codePath("NOPE-NOPE") + "/redeem", w.shop, map[string]any{"order_id": "o"}, 404, engagement.CodeNotFound, ""},
		{"redeem without an order", "POST", codePath(w.annCode) + "/redeem", w.shop, map[string]any{}, 400, engagement.CodeInvalid, "order_id"},
		{"redeem with a spaced order", "POST", codePath(w.annCode) + "/redeem", w.shop, map[string]any{"order_id": "a b"}, 400, engagement.CodeInvalid, "order_id"},
		{"redeem with a long order", "POST", codePath(w.annCode) + "/redeem", w.shop, map[string]any{"order_id": strings.Repeat("o", 129)}, 400, engagement.CodeInvalid, "order_id"},
		{"redeem with a numeric order", "POST", codePath(w.annCode) + "/redeem", w.shop, `{"order_id":42}`, 400, engagement.CodeInvalid, "order_id"},
		{"redeem with a bad body", "POST", codePath(w.annCode) + "/redeem", w.shop, `{"order_id":`, 400, engagement.CodeInvalid, ""},
		{"drop: negative discount", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "stock": 1, "expires_s": 60, "discount_fen": -1}, 400, engagement.CodeInvalid, "discount_fen"},
		{"drop: discount too large", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "stock": 1, "expires_s": 60, "discount_fen": 100_000_001}, 400, engagement.CodeInvalid, "discount_fen"},
		{"drop: threshold too large", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "stock": 1, "expires_s": 60, "discount_fen": 1, "min_spend_fen": 10_000_000_001}, 400, engagement.CodeInvalid, "min_spend_fen"},
		{"drop: threshold under the discount", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "stock": 1, "expires_s": 60, "discount_fen": 500, "min_spend_fen": 100}, 400, engagement.CodeInvalid, "min_spend_fen"},
		{"drop: no codes", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "expires_s": 60, "codes": []string{}}, 400, engagement.CodeInvalid, "codes"},
		{"drop: a bad code", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "expires_s": 60, "codes": []string{"ok-but-lower"}}, 400, engagement.CodeInvalid, "codes"},
		{"drop: a repeated code", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "expires_s": 60, "codes": []string{"AAAAAA", "AAAAAA"}}, 400, engagement.CodeInvalid, "codes"},
		{"drop: stock not the codes", "POST", "/api/v1/streams/s1/coupons", w.host, map[string]any{"title": "x", "stock": 5, "expires_s": 60, "codes": []string{"AAAAAA"}}, 400, engagement.CodeInvalid, "stock"},
		{"drop: codes not strings", "POST", "/api/v1/streams/s1/coupons", w.host, `{"title":"x","expires_s":60,"codes":[1]}`, 400, engagement.CodeInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.do(tt.method, tt.path, tt.token, tt.body)
			if res.status != tt.status {
				t.Fatalf("status = %d %s, want %d", res.status, res.body, tt.status)
			}
			p := res.json(t)
			if p["code"] != string(tt.code) || tt.field != "" && p["field"] != tt.field {
				t.Fatalf("problem = %s, want code %s field %q", res.body, tt.code, tt.field)
			}
		})
	}
	// Nothing above redeemed a code or dropped a coupon.
	if got := ts.do(http.MethodGet, codePath(w.annCode), w.shop, nil).json(t); got["status"] != "claimed" {
		t.Fatalf("ann's code after the bad input = %v", got)
	}
	if cs, err := ts.svc.Coupons(context.Background(), "s1"); err != nil || len(cs) != 1 {
		t.Fatalf("coupons after the bad input = %+v, %v", cs, err)
	}

	// Past the drop's expiry: the lookup says expired, a redemption is 409 expired.
	w.skew.Store(int64(601 * time.Second))
	if got := ts.do(http.MethodGet, codePath(w.bobCode), w.shop, nil).json(t); got["status"] != "expired" {
		t.Fatalf("bob's code after expiry = %v", got)
	}
	res := ts.do(http.MethodPost, codePath(w.bobCode)+"/redeem", w.shop, map[string]any{"order_id": "order-9"})
	if p := res.json(t); res.status != http.StatusConflict || p["code"] != "expired" {
		t.Fatalf("redeem after expiry: %d %s, want 409 expired", res.status, res.body)
	}
}

// TestCouponCodeConcurrentRedeemOverHTTP: 20 redemptions of one code with distinct orders at once: exactly
// one 200, nineteen 409 conflict, and the code names the winner.
func TestCouponCodeConcurrentRedeemOverHTTP(t *testing.T) {
	w := newCouponWorld(t)
	ts := w.ts
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		winners   []string
		conflicts int
	)
	for i := range 20 {
		order := fmt.Sprintf("order-%d", i)
		wg.Go(func() {
			res := ts.do(http.MethodPost, codePath(w.annCode)+"/redeem", w.shop, map[string]any{"order_id": order})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case res.status == http.StatusOK:
				winners = append(winners, order)
			case res.status == http.StatusConflict && strings.Contains(string(res.body), `"code":"conflict"`):
				conflicts++
			default:
				t.Errorf("%s: %d %s", order, res.status, res.body)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 || conflicts != 19 {
		t.Fatalf("winners %v, %d conflicts; want one and 19", winners, conflicts)
	}
	if got := ts.do(http.MethodGet, codePath(w.annCode), w.shop, nil).json(t); got["order_id"] != winners[0] {
		t.Fatalf("stored order %v, winner %s", got["order_id"], winners[0])
	}
}
