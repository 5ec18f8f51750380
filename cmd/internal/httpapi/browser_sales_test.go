package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// TestBrowserSalesPerShow: the host adds two products from the panel and pins one, then the other; the
// viewer sees the card change, opens the shelf and clicks a product; the shop posts a purchase of it
// attributed to the stream; the panel's GMV and conversion change within 5 s (it polls every 3 s).
func TestBrowserSalesPerShow(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")
	host.waitText("#sales-gmv", "¥0.00")

	shopURL := ts.URL + "/api/v1/rewards" // a page of this server: the test opens nothing outside
	for _, p := range []struct{ id, title, price string }{{"p1", "Coral runner", "99.00"}, {"p2", "Teal runner", "129.00"}} {
		host.fill("#product-id", p.id)
		host.fill("#product-title", p.title)
		host.fill("#product-price", p.price)
		host.fill("#product-url", shopURL)
		host.click("#product-add")
		host.waitFor(`#product-list li[data-id="` + p.id + `"]`)
	}
	host.waitText("#product-count", "2")

	host.click(`#product-list li[data-id="p1"] .product-pin`)
	ann.waitFor(`#product-card:not([hidden])`)
	ann.waitText("#product-name", "Coral runner")
	host.waitFor(`#product-list li[data-id="p1"][data-pinned="true"]`)
	host.click(`#product-list li[data-id="p2"] .product-pin`)
	ann.waitText("#product-name", "Teal runner")
	ann.waitText("#product-price", "¥129")
	host.waitFor(`#product-list li[data-id="p2"][data-pinned="true"]`)
	host.waitFor(`#product-list li[data-id="p1"][data-pinned="false"]`)

	ann.click("#shelf-button")
	ann.click(`#shelf-list button[data-product-id="p2"]`)
	waitEvent(ts, engagement.EventProductClicked, "ann")
	host.waitText(`#sales-products li[data-id="p2"] .clicks`, "1 clicks")
	host.waitText("#sales-conversion", "0.0%")

	shop := ts.token("shop", engagement.RoleService, "")
	order := map[string]any{"order_id": "o-1", "user_id": "ann", "stream_id": "s1",
		"items": []map[string]any{{"product_id": "p2", "qty": 1, "price_fen": 12900}}}
	if r := ts.do(http.MethodPost, "/api/v1/purchases", shop, order); r.status != http.StatusCreated {
		t.Fatalf("purchase: %d %s", r.status, r.body)
	}
	posted := time.Now()
	host.waitText("#sales-gmv", "¥129.00")
	host.waitText("#sales-conversion", "100.0%")
	if d := time.Since(posted); d > 5*time.Second {
		t.Errorf("the panel showed the sale after %s, want within 5 s", d)
	}
	host.waitText("#sales-orders", "1")
	host.waitText("#sales-buyers", "1")
	host.waitText(`#sales-products li[data-id="p2"] .orders`, "1 orders")

	host.noExceptions()
	ann.noExceptions()
}
