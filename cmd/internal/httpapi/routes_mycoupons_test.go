package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// myCoupons reads GET /users/:uid/coupons with token and returns the status and the list.
func myCoupons(t *testing.T, ts *testServer, user, token string) (int, []map[string]any) {
	t.Helper()
	res := ts.do(http.MethodGet, "/api/v1/users/"+user+"/coupons", token, nil)
	if res.status != http.StatusOK {
		return res.status, nil
	}
	raw, ok := res.json(t)["coupons"].([]any)
	if !ok {
		t.Fatalf("body %s has no coupons list", res.body)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return res.status, out
}

// couponLines is the list as comparable lines: code, source, drop or reward, title, amounts, status.
func couponLines(list []map[string]any) []string {
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	lines := make([]string, len(list))
	for i, c := range list {
		lines[i] = fmt.Sprintf("%s %s %s%s %s %s/%s %s", str(c["code"]), str(c["source"]), str(c["coupon_id"]), str(c["reward_id"]),
			str(c["title"]), str(c["discount_fen"]), str(c["min_spend_fen"]), str(c["status"]))
	}
	return lines
}

// TestMyCouponsOverHTTP: "My coupons" for its user, the shop and an admin only; a claimed drop code, then
// the same redeemed at the checkout; a points-store code; a drop code past its expiry, all as the checkout's
// GET /coupons/codes/:code says.
func TestMyCouponsOverHTTP(t *testing.T) {
	skew := new(atomic.Int64)
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Award(context.Background(), rewards.Award{Key: "seed:ann", User: "ann", Points: 1000}); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, serverOpts{svcCfg: engagement.Config{Now: now, Ledger: ledger}})
	ts.createStream("s1")
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	shop, admin := ts.token("shop", engagement.RoleService, ""), ts.token("root", engagement.RoleAdmin, "")
	ann, bob := ts.token("ann", engagement.RoleViewer, ""), ts.token("bob", engagement.RoleViewer, "")

	// Authorisation first: no token, another viewer, the host.
	if st, _ := myCoupons(t, ts, "ann", ""); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", st)
	}
	for name, tok := range map[string]string{"bob": bob, "the host": host} {
		res := ts.do(http.MethodGet, "/api/v1/users/ann/coupons", tok, nil)
		if p := res.json(t); res.status != http.StatusForbidden || p["code"] != "forbidden" {
			t.Fatalf("%s reads ann's coupons: %d %s, want 403 forbidden", name, res.status, res.body)
		}
	}
	if _, list := myCoupons(t, ts, "ann", ann); list == nil || len(list) != 0 {
		t.Fatalf("before any claim: %v, want an empty list", list)
	}

	drop := func(title string, expires int, discount, min int64, codes ...string) string {
		t.Helper()
		res := ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", host, map[string]any{
			"title": title, "expires_s": expires, "discount_fen": discount, "min_spend_fen": min, "codes": codes,
		})
		if res.status != http.StatusCreated {
			t.Fatalf("drop: %d %s", res.status, res.body)
		}
		return res.json(t)["id"].(string)
	}
	claim := func(id string) string {
		t.Helper()
		out, err := ts.svc.ClaimCoupon(context.Background(), engagement.Actor{User: "ann", Role: engagement.RoleViewer}, "s1", id)
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		skew.Add(int64(time.Second)) // each later code is newer
		return out.Reply["code"].(string)
	}
	big := drop("满100减20", 3600, 2000, 10000, "BIG-0001", "BIG-0002")
	flash := drop("Flash", 60, 500, 0, "FLASH-001")
	bigCode, flashCode := claim(big), claim(flash)

	// After the claims: both codes, newest first, claimed.
	_, list := myCoupons(t, ts, "ann", ann)
	want := []string{
		"FLASH-001 drop " + flash + " Flash 500/0 claimed",
		"BIG-0001 drop " + big + " 满100减20 2000/10000 claimed",
	}
	if bigCode != "BIG-0001" || flashCode != "FLASH-001" || fmt.Sprint(couponLines(list)) != fmt.Sprint(want) {
		t.Fatalf("after the claims:\n got %q\nwant %q", couponLines(list), want)
	}
	if list[1]["stream_id"] != "s1" || list[1]["expires_at"] == nil || list[1]["claimed_at"] == nil || list[1]["redeemed_at"] != nil {
		t.Fatalf("a drop code's details: %v", list[1])
	}
	claimedAt, err1 := time.Parse(time.RFC3339, list[1]["claimed_at"].(string))
	expiresAt, err2 := time.Parse(time.RFC3339, list[1]["expires_at"].(string))
	if err1 != nil || err2 != nil || expiresAt.Sub(claimedAt) < 59*time.Minute || expiresAt.Sub(claimedAt) > time.Hour {
		t.Fatalf("claimed_at %v, expires_at %v: want the drop's hour between them", list[1]["claimed_at"], list[1]["expires_at"])
	}
	for name, tok := range map[string]string{"the shop": shop, "an admin": admin} {
		if st, l := myCoupons(t, ts, "ann", tok); st != http.StatusOK || fmt.Sprint(couponLines(l)) != fmt.Sprint(want) {
			t.Fatalf("%s reads ann's coupons: %d %q", name, st, couponLines(l))
		}
	}
	if _, l := myCoupons(t, ts, "bob", bob); len(l) != 0 {
		t.Fatalf("bob's own list: %v, want none", l)
	}

	// The checkout redeems the big code: it shows redeemed, as the checkout's lookup does.
	if res := ts.do(http.MethodPost, codePath(bigCode)+"/redeem", shop, map[string]any{"order_id": "order-7"}); res.status != http.StatusOK {
		t.Fatalf("redeem at the checkout: %d %s", res.status, res.body)
	}
	// A points-store coupon: bought now, so listed first.
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", admin, map[string]any{"items": testStoreItems}); r.status != http.StatusOK {
		t.Fatalf("PUT /catalogue: %d %s", r.status, r.body)
	}
	skew.Add(int64(time.Second))
	res := ts.do(http.MethodPost, "/api/v1/users/ann/redemptions", ann, map[string]any{"reward_id": "c5", "request_id": "r1"})
	storeCode, _ := res.json(t)["code"].(string)
	if res.status != http.StatusCreated || storeCode == "" {
		t.Fatalf("points-store coupon: %d %s", res.status, res.body)
	}
	_, list = myCoupons(t, ts, "ann", ann)
	want = []string{
		storeCode + " store c5 ¥5 off orders over ¥20 500/2000 claimed",
		"FLASH-001 drop " + flash + " Flash 500/0 claimed",
		"BIG-0001 drop " + big + " 满100减20 2000/10000 redeemed",
	}
	if fmt.Sprint(couponLines(list)) != fmt.Sprint(want) {
		t.Fatalf("after a checkout redemption and a store coupon:\n got %q\nwant %q", couponLines(list), want)
	}
	if list[2]["redeemed_at"] == nil || list[0]["stream_id"] != nil || list[0]["expires_at"] == nil {
		t.Fatalf("details: %v", list)
	}

	// Past the flash drop's expiry: expired, as the checkout's lookup says; the others keep their state.
	skew.Add(int64(61 * time.Second))
	if look := ts.do(http.MethodGet, codePath(flashCode), shop, nil).json(t); look["status"] != "expired" {
		t.Fatalf("the checkout's lookup of the flash code: %v", look)
	}
	_, list = myCoupons(t, ts, "ann", ann)
	var states []any
	for _, c := range list {
		states = append(states, c["status"])
	}
	if fmt.Sprint(states) != "[claimed expired redeemed]" {
		t.Fatalf("after the flash drop expired: %q", couponLines(list))
	}
}
