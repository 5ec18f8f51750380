package httpapi

import (
	"net/http"
	"testing"

	"github.com/kudos-live/kudos/engagement"
)

// TestBrowserMyCoupons: the viewer page's "My coupons" (Rewards tab) lists the code a viewer claims of a drop
// in the page as claimed, with its value; the shop redeems it at the checkout and the refreshed list shows
// it used; a coupon bought in the points store joins the list as soon as it is redeemed.
func TestBrowserMyCoupons(t *testing.T) {
	ts := newStoreServer(t) // ann has 1000 points
	ts.createStream("s1")
	admin := ts.token("root", engagement.RoleAdmin, "")
	shop := ts.token("shop", engagement.RoleService, "")
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", admin, map[string]any{"items": testStoreItems}); r.status != http.StatusOK {
		t.Fatalf("PUT /catalogue: %d %s", r.status, r.body)
	}
	b := newBrowser(t)
	ann := openViewer(ts, b, "ann", "s1")
	ann.click("#tab-rewards")
	ann.waitFor(`#my-coupons-empty:not([hidden])`)
	if n, err := evalIn[int](ann, `document.querySelectorAll('#my-coupons .my-coupon').length`); err != nil || n != 0 {
		t.Fatalf("before any claim the list holds %d (%v)", n, err)
	}

	res := ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", ts.token("host-s1", engagement.RoleHost, "s1"), map[string]any{
		"title": "Spring sale", "expires_s": 600, "discount_fen": 2000, "min_spend_fen": 10000, "codes": []string{"SPRING-A1"},
	})
	if res.status != http.StatusCreated {
		t.Fatalf("drop: %d %s", res.status, res.body)
	}
	ann.waitFor(`#coupon-card:not([hidden])`)
	ann.click("#coupon-claim")
	ann.waitText("#coupon-code", "SPRING-A1")

	// The claim refreshes the list: the code, claimed, with its value and source.
	item := `#my-coupons .my-coupon[data-code="SPRING-A1"]`
	ann.waitFor(item + `[data-status="claimed"][data-source="drop"]`)
	ann.waitText(item+` [data-testid="my-coupon-value"]`, "满 ¥100 减 ¥20")
	ann.waitText(item+` [data-testid="my-coupon-state"]`, "Ready")
	ann.waitText(item+" .my-coupon-meta", "Spring sale")
	if hidden, err := evalIn[bool](ann, `document.querySelector('#my-coupons-empty').hidden`); err != nil || !hidden {
		t.Fatalf("the empty note is shown beside a code (%v)", err)
	}

	// The shop's checkout redeems it; the page shows it used once the list is refreshed.
	if r := ts.do(http.MethodPost, "/api/v1/coupons/codes/SPRING-A1/redeem", shop, map[string]any{"order_id": "order-1"}); r.status != http.StatusOK {
		t.Fatalf("redeem at the checkout: %d %s", r.status, r.body)
	}
	ann.click("#my-coupons-refresh")
	ann.waitFor(item + `[data-status="redeemed"]`)
	ann.waitText(item+` [data-testid="my-coupon-state"]`, "Used")

	// A points-store coupon: redeemed in the page, listed at once, newest first.
	if _, err := evalIn[bool](ann, `(window.confirm = () => true, true)`); err != nil {
		t.Fatal(err)
	}
	ann.click(`#store-list .store-item[data-reward-id="c5"] .store-redeem`)
	ann.waitText("#store-result", "Your code: ")
	code, err := evalIn[string](ann, `document.querySelector('#store-result').dataset.code`)
	if err != nil || code == "" {
		t.Fatalf("store code on the page: %q, %v", code, err)
	}
	first := `#my-coupons .my-coupon:first-child[data-code="` + code + `"][data-source="store"][data-status="claimed"]`
	ann.waitFor(first)
	ann.waitText(first+` [data-testid="my-coupon-value"]`, "满 ¥20 减 ¥5")
	ann.waitFor(`#my-coupons .my-coupon:nth-child(2)[data-code="SPRING-A1"][data-status="redeemed"]`)
	ann.noExceptions()
}
