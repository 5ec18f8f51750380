package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// newStoreServer returns a test server whose ledger paid ann 1000 points and bob 10.
func newStoreServer(t *testing.T) *testServer {
	t.Helper()
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for user, pts := range map[string]int64{"ann": 1000, "bob": 10} {
		if _, err := ledger.Award(context.Background(), rewards.Award{Key: "seed:" + user, User: user, Points: pts}); err != nil {
			t.Fatal(err)
		}
	}
	return newTestServer(t, serverOpts{svcCfg: engagement.Config{Ledger: ledger}})
}

var testStoreItems = []map[string]any{
	{"id": "c5", "title": "¥5 off orders over ¥20", "cost": 100, "kind": "coupon", "discount_fen": 500, "min_spend_fen": 2000, "per_user_limit": 1, "stock": 5},
	{"id": "mug", "title": "Kudos mug", "cost": 200, "kind": "gift", "stock": 2},
}

// TestPointsStore drives the points store over HTTP: the shop replaces the catalogue, a viewer redeems a
// coupon item (its code verifies and redeems at the checkout; a replay returns the same code; a second one
// passes the per-user limit) and a gift item whose claim the shop fulfils once.
func TestPointsStore(t *testing.T) {
	ts := newStoreServer(t)
	admin := ts.token("root", engagement.RoleAdmin, "")
	shop := ts.token("shop", engagement.RoleService, "")
	ann := ts.token("ann", engagement.RoleViewer, "")
	bob := ts.token("bob", engagement.RoleViewer, "")

	if r := ts.do(http.MethodPut, "/api/v1/catalogue", ann, map[string]any{"items": testStoreItems}); r.status != http.StatusForbidden || r.json(t)["code"] != "forbidden" {
		t.Fatalf("a viewer's PUT /catalogue: %d %s, want 403 forbidden", r.status, r.body)
	}
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", admin, map[string]any{"items": testStoreItems}); r.status != http.StatusOK {
		t.Fatalf("PUT /catalogue: %d %s", r.status, r.body)
	}
	list := ts.do(http.MethodGet, "/api/v1/rewards", "", nil).json(t)["rewards"].([]any)
	if len(list) != 2 {
		t.Fatalf("rewards %v, want the 2 items put", list)
	}
	first := list[0].(map[string]any)
	if first["id"] != "c5" || first["kind"] != "coupon" || first["remaining"] != float64(5) || first["per_user_limit"] != float64(1) || first["discount_fen"] != float64(500) {
		t.Fatalf("first reward %v", first)
	}

	// A coupon item: a code, the same on a replay, verified and redeemed at the checkout.
	req := map[string]any{"reward_id": "c5", "request_id": "r1"}
	res := ts.do(http.MethodPost, "/api/v1/users/ann/redemptions", ann, req)
	red := res.json(t)
	code, _ := red["code"].(string)
	if res.status != http.StatusCreated || code == "" || red["balance"] != float64(900) || red["kind"] != "coupon" {
		t.Fatalf("coupon redemption: %d %v", res.status, red)
	}
	at, _ := time.Parse(time.RFC3339, red["at"].(string))
	exp, _ := time.Parse(time.RFC3339, red["expires_at"].(string))
	if exp.Sub(at) != engagement.RewardCodeValidity {
		t.Fatalf("expires_at %v, want 30 days after %v", exp, at)
	}
	again := ts.do(http.MethodPost, "/api/v1/users/ann/redemptions", ann, req)
	if again.status != http.StatusOK || again.json(t)["code"] != code || again.json(t)["balance"] != float64(900) {
		t.Fatalf("replay: %d %s, want 200 with code %s", again.status, again.body, code)
	}
	look := ts.do(http.MethodGet, "/api/v1/coupons/codes/"+code, shop, nil)
	rec := look.json(t)
	if look.status != http.StatusOK || rec["status"] != "claimed" || rec["user_id"] != "ann" || rec["discount_fen"] != float64(500) ||
		rec["min_spend_fen"] != float64(2000) || rec["coupon_id"] != "c5" {
		t.Fatalf("GET code: %d %v", look.status, rec)
	}
	if r := ts.do(http.MethodPost, "/api/v1/coupons/codes/"+code+"/redeem", shop, map[string]any{"order_id": "SO-1"}); r.status != http.StatusOK || r.json(t)["status"] != "redeemed" {
		t.Fatalf("redeem code: %d %s", r.status, r.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/users/ann/redemptions", ann, map[string]any{"reward_id": "c5", "request_id": "r2"}); r.status != http.StatusConflict || r.json(t)["code"] != "limit_reached" {
		t.Fatalf("second coupon past per_user_limit 1: %d %s, want 409 limit_reached", r.status, r.body)
	}

	// Unaffordable: 409, balance untouched.
	if r := ts.do(http.MethodPost, "/api/v1/users/bob/redemptions", bob, map[string]any{"reward_id": "mug", "request_id": "b1"}); r.status != http.StatusConflict || r.json(t)["code"] != "insufficient_points" {
		t.Fatalf("bob's mug: %d %s, want 409 insufficient_points", r.status, r.body)
	}
	if acc := ts.do(http.MethodGet, "/api/v1/users/bob/points", bob, nil).json(t); acc["balance"] != float64(10) {
		t.Fatalf("bob's balance after a refused redemption: %v, want 10", acc["balance"])
	}

	// A gift: a claim id, fulfilled once.
	g := ts.do(http.MethodPost, "/api/v1/users/ann/redemptions", ann, map[string]any{"reward_id": "mug", "request_id": "g1"}).json(t)
	claim, _ := g["claim_id"].(string)
	if claim == "" || g["code"] != nil || g["balance"] != float64(700) {
		t.Fatalf("gift redemption %v", g)
	}
	if r := ts.do(http.MethodPost, "/api/v1/redemptions/"+claim+"/fulfil", ann, nil); r.status != http.StatusForbidden {
		t.Fatalf("a viewer fulfils: %d %s, want 403", r.status, r.body)
	}
	f1 := ts.do(http.MethodPost, "/api/v1/redemptions/"+claim+"/fulfil", shop, nil)
	f2 := ts.do(http.MethodPost, "/api/v1/redemptions/"+claim+"/fulfil", shop, nil)
	if f1.status != http.StatusOK || f2.status != http.StatusOK || string(f1.body) != string(f2.body) || f1.json(t)["fulfilled_at"] == nil {
		t.Fatalf("fulfil twice: %d %s / %d %s; want 200 and the same body", f1.status, f1.body, f2.status, f2.body)
	}
	if r := ts.do(http.MethodPost, "/api/v1/redemptions/gift-unknown/fulfil", shop, nil); r.status != http.StatusNotFound || r.json(t)["code"] != "not_found" {
		t.Fatalf("unknown claim: %d %s, want 404", r.status, r.body)
	}
	fulfilled := 0
	for _, ev := range ts.sink.Events() {
		if ev.Type == engagement.EventRedemptionFulfilled {
			fulfilled++
		}
	}
	if fulfilled != 2 { // published by each call, with one id: consumers keep one
		t.Fatalf("%d redemption.fulfilled events, want 2 (same id)", fulfilled)
	}
	if list := ts.do(http.MethodGet, "/api/v1/rewards", "", nil).json(t)["rewards"].([]any); list[1].(map[string]any)["remaining"] != float64(1) {
		t.Fatalf("mug after one redemption: %v, want 1 left", list[1])
	}
}

func TestPointsStoreBadInput(t *testing.T) {
	ts := newStoreServer(t)
	admin := ts.token("root", engagement.RoleAdmin, "")
	item := func(over map[string]any) map[string]any {
		m := map[string]any{"id": "x", "title": "X", "cost": 10, "kind": "gift"}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"no items", map[string]any{}, "items"},
		{"duplicate ids", map[string]any{"items": []any{item(nil), item(nil)}}, "items[1].id"},
		{"empty id", map[string]any{"items": []any{item(map[string]any{"id": ""})}}, "items[0].id"},
		{"no title", map[string]any{"items": []any{item(map[string]any{"title": ""})}}, "items[0].title"},
		{"zero cost", map[string]any{"items": []any{item(map[string]any{"cost": 0})}}, "items[0].cost"},
		{"unknown kind", map[string]any{"items": []any{item(map[string]any{"kind": "toaster"})}}, "items[0].kind"},
		{"coupon without discount", map[string]any{"items": []any{item(map[string]any{"kind": "coupon"})}}, "items[0].discount_fen"},
		{"negative stock", map[string]any{"items": []any{item(map[string]any{"stock": -1})}}, "items[0].stock"},
		{"negative limit", map[string]any{"items": []any{item(map[string]any{"per_user_limit": -1})}}, "items[0].per_user_limit"},
		{"min spend under discount", map[string]any{"items": []any{item(map[string]any{"kind": "coupon", "discount_fen": 500, "min_spend_fen": 100})}}, "items[0].min_spend_fen"},
		{"cost as string", `{"items":[{"id":"x","title":"X","cost":"10","kind":"gift"}]}`, ""},
		{"malformed JSON", `{"items":[`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(http.MethodPut, "/api/v1/catalogue", admin, tt.body)
			p := r.json(t)
			if r.status != http.StatusBadRequest || p["code"] != "invalid" || (tt.field != "" && p["field"] != tt.field) {
				t.Fatalf("%d %v, want 400 invalid field %q", r.status, p, tt.field)
			}
		})
	}
	// Nothing was replaced: the compiled-in catalogue is still listed.
	if list := ts.do(http.MethodGet, "/api/v1/rewards", "", nil).json(t)["rewards"].([]any); len(list) != len(rewards.DefaultCatalogue()) {
		t.Fatalf("after bad input the catalogue is %v", list)
	}
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", "", map[string]any{"items": testStoreItems}); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	if r := ts.do(http.MethodPost, "/api/v1/redemptions/gift-x/fulfil", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("fulfil without a token: %d", r.status)
	}
}

// TestBrowserPointsStore: the viewer page's Rewards tab lists what the balance affords and redeems an item
// after a confirmation, showing the coupon's code (which the checkout then finds) or the gift's claim id.
func TestBrowserPointsStore(t *testing.T) {
	ts := newStoreServer(t)
	ts.createStream("s1")
	items := []map[string]any{testStoreItems[0], testStoreItems[1],
		{"id": "yacht", "title": "A yacht", "cost": 5000, "kind": "gift"}}
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", ts.token("root", engagement.RoleAdmin, ""), map[string]any{"items": items}); r.status != http.StatusOK {
		t.Fatalf("PUT /catalogue: %d %s", r.status, r.body)
	}
	b := newBrowser(t)
	ann := openViewer(ts, b, "ann", "s1")
	ann.click("#tab-rewards")
	ann.waitFor(`#store-list .store-item[data-reward-id="c5"]`)
	ann.waitFor(`#store-list .store-item[data-reward-id="mug"]`)
	if n, err := evalIn[int](ann, `document.querySelectorAll('#store-list .store-item[data-reward-id="yacht"]').length`); err != nil || n != 0 {
		t.Fatalf("an unaffordable item is listed (%d, %v)", n, err)
	}
	if _, err := evalIn[bool](ann, `(window.confirm = () => true, true)`); err != nil {
		t.Fatal(err)
	}
	ann.click(`#store-list .store-item[data-reward-id="c5"] .store-redeem`)
	ann.waitText("#store-result", "Your code: ")
	code, err := evalIn[string](ann, `document.querySelector('#store-result').dataset.code`)
	if err != nil || code == "" {
		t.Fatalf("code on the page: %q, %v", code, err)
	}
	if rec := ts.do(http.MethodGet, "/api/v1/coupons/codes/"+code, ts.token("shop", engagement.RoleService, ""), nil).json(t); rec["status"] != "claimed" || rec["user_id"] != "ann" {
		t.Fatalf("the page's code at the checkout: %v", rec)
	}
	ann.waitText("#rewards-balance", "900")
	ann.click(`#store-list .store-item[data-reward-id="mug"] .store-redeem`)
	ann.waitText("#store-result", "claim id: gift-")
	ann.waitText("#rewards-balance", "700")
	ann.noExceptions()
}
