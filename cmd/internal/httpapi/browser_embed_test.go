package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// The embed tests run three origins on this machine: Kudos, reached as http://localhost:<port> (its test server
// listens on 127.0.0.1, so localhost is another origin and another site); the shop, an httptest server on
// http://127.0.0.1:<port> listed in KUDOS_FRAME_ANCESTORS that serves static/examples/shop.html; and an
// unlisted origin, another httptest server on 127.0.0.1 serving the same shop page and a page that posts forged
// messages to the room. Chromium runs the room, a frame of another site, in its own process: roomFrame attaches
// to it as a target of its own.

// shopServer serves the sample shop page; /forge.html, a page that posts messages to the first frame of its
// parent (the room, when the shop frames it), as any page of a foreign origin framed beside the room could;
// and, with mint, /kudos-token: the shop's back end handing its page a fresh token for the buyer.
func shopServer(t *testing.T, mint func() string) *httptest.Server {
	t.Helper()
	page, err := os.ReadFile("../../../static/examples/shop.html")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /forge.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>forge</title><script>
			const room = window.parent.frames[0];
			room.postMessage({ type: 'kudos:theme', data: { accent: '#00ff00' } }, '*');
			room.postMessage({ type: 'kudos:token', data: { token: 'forged' } }, '*');
			document.title = 'sent';
		</script>`))
	})
	if mint != nil {
		mux.HandleFunc("GET /kudos-token", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"token":%q}`, mint())
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// kudosOrigin is the test server's origin under the name localhost.
func kudosOrigin(t *testing.T, ts *testServer) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + u.Port()
}

// shopURL is the sample shop page on origin, framing stream from kudos as user.
func shopURL(ts *testServer, origin, kudos, user, streamID string) string {
	q := url.Values{"kudos": {kudos}, "stream": {streamID}, "token": {ts.token(user, engagement.RoleViewer, "")}, "accent": {"#1d6fe8"}}
	return origin + "/shop.html?" + q.Encode()
}

// roomFrame finds the room's frame target (a URL under prefix) and attaches a tab to it.
func roomFrame(b *browser, parent *tab, prefix string) *tab {
	b.t.Helper()
	var id target.ID
	parent.waitUntil("a frame target at "+prefix, func() (bool, string, error) {
		infos, err := chromedp.Targets(parent.ctx)
		if err != nil {
			return false, "", err
		}
		var seen []string
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				id = info.TargetID
				return true, "", nil
			}
			seen = append(seen, info.Type+" "+info.URL)
		}
		return false, strings.Join(seen, ", "), nil
	})
	ctx, cancel := chromedp.NewContext(parent.ctx, chromedp.WithTargetID(id))
	p := &tab{t: b.t, name: parent.name + "-room", ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if err := chromedp.Do(ctx); err != nil {
		close(p.done)
		b.t.Fatalf("attach to the room frame: %v", err)
	}
	b.mu.Lock()
	b.tabs = append(b.tabs, p)
	b.mu.Unlock()
	messages := chromedp.Console(ctx)
	go func() {
		defer close(p.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	return p
}

// cssVar reads a custom property of the room's root element.
func (p *tab) cssVar(name string) string {
	p.t.Helper()
	v, err := evalIn[string](p, `getComputedStyle(document.documentElement).getPropertyValue(`+jsString(name)+`).trim()`)
	if err != nil {
		p.t.Fatalf("tab %s: read %s: %v", p.name, name, err)
	}
	return v
}

// TestBrowserEmbedInShop: the sample shop page on one origin frames the room served from another; the buyer
// chats, claims a coupon and taps Buy in the frame, and the shop page receives the postMessages; the shop's theme
// applies; messages from a foreign origin are ignored while the shop's own are taken.
func TestBrowserEmbedInShop(t *testing.T) {
	shop, foreign := shopServer(t, nil), shopServer(t, nil)
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Award(context.Background(), rewards.Award{Key: "seed:ann", User: "ann", Points: 1000}); err != nil {
		t.Fatal(err)
	}
	opts := fastLimits()
	opts.svcCfg.Ledger = ledger
	opts.frameAncestors = []string{shop.URL}
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	kudos := kudosOrigin(t, ts)
	host := ts.token("host-s1", engagement.RoleHost, "s1")
	if r := ts.do(http.MethodPut, "/api/v1/catalogue", ts.token("root", engagement.RoleAdmin, ""), map[string]any{"items": testStoreItems}); r.status != http.StatusOK {
		t.Fatalf("PUT /catalogue: %d %s", r.status, r.body)
	}
	b := newBrowser(t)

	page := b.open("shop", shopURL(ts, shop.URL, kudos, "ann", "s1"))
	page.waitText("#room-status", "Live room s1 is ready") // kudos:ready: the room verified its parent
	room := roomFrame(b, page, kudos+"/embed/s1")
	room.waitFor(`body.embed-page[data-embed-parent=` + jsString(shop.URL) + `]`)
	room.waitFor(`#conn-status[data-state="open"]`)
	room.waitText("#you-name", "Watching as Ann") // the token from the URL's fragment
	if got, _ := evalIn[string](room, `location.hash`); got != "" {
		t.Errorf("the token stays in the room's address: hash %q", got)
	}

	// The theme of the embed URL: the accent and radius the shop passed.
	if got := room.cssVar("--accent"); got != "#1d6fe8" {
		t.Errorf("--accent = %q, want the shop's #1d6fe8", got)
	}
	if got := room.cssVar("--kudos-radius"); got != "12px" {
		t.Errorf("--kudos-radius = %q, want 12px", got)
	}

	// Chat from inside the frame reaches the room.
	room.typeText("#chat-input", "Hello from the shop")
	room.click("#chat-send")
	room.waitText(`#chat-list li.chat-item.mine[data-user="ann"] .chat-text`, "Hello from the shop")
	waitEvent(ts, engagement.EventCommentPosted, "ann")

	// A coupon drop, claimed in the frame: the shop page gets kudos:coupon.claimed with the code.
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", host, map[string]any{"title": "20 off 100", "stock": 5, "expires_s": 600, "discount_fen": 2000, "min_spend_fen": 10000}); r.status != http.StatusCreated {
		t.Fatalf("drop coupon: %d %s", r.status, r.body)
	}
	room.click("#coupon-claim")
	room.waitFor("#coupon-code")
	code, _, err := room.textOf("#coupon-code")
	if err != nil || code == "" {
		t.Fatalf("no coupon code in the room: %q %v", code, err)
	}
	page.waitText(`#kudos-events li[data-type="kudos:coupon.claimed"]`, "Coupon saved: 20 off 100 "+code)
	page.waitText("#wallet code", code)
	waitEvent(ts, engagement.EventCouponClaimed, "ann")

	// The presented product: Buy in the frame is the shop's (its cart), not a new window.
	for _, path := range []string{"/api/v1/streams/s1/products", "/api/v1/streams/s1/products/glow/pin"} {
		var body any
		if !strings.HasSuffix(path, "/pin") {
			body = map[string]any{"id": "glow", "title": "Glow serum", "price_fen": 12900, "url": "https://shop.example/glow"}
		}
		if r := ts.do(http.MethodPost, path, host, body); r.status >= 300 {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
	}
	room.waitText("#product-name", "Glow serum")
	room.click("#buy-button")
	page.waitText(`#kudos-events li[data-type="kudos:product.click"]`, "Added to cart: Glow serum (¥129.00)")
	page.waitText("#cart-count", "1")

	// A points-store redemption in the frame: the shop page gets kudos:reward.redeemed with the coupon's code.
	if _, err := evalIn[bool](room, `(window.confirm = () => true, true)`); err != nil {
		t.Fatal(err)
	}
	// In a frame this narrow the toasts (the claim's) cover the points pill until they go, as for a buyer.
	room.waitUntil("the toasts to go", func() (bool, string, error) {
		n, err := evalIn[int](room, `document.querySelectorAll('#toasts .toast').length`)
		return n == 0, fmt.Sprint(n, " toasts"), err
	})
	room.click("#points-pill")
	room.waitUntil("the rewards sheet to open", func() (bool, string, error) {
		tr, err := evalIn[string](room, `getComputedStyle(document.querySelector('#side')).transform`)
		return tr == "none", tr, err
	})
	room.click(`#store-list .store-item[data-reward-id="c5"] .store-redeem`)
	room.waitText("#store-result", "Your code: ")
	storeCode, err := evalIn[string](room, `document.querySelector('#store-result').dataset.code`)
	if err != nil || storeCode == "" {
		t.Fatalf("no code in the room's store result: %q %v", storeCode, err)
	}
	page.waitText(`#kudos-events li[data-type="kudos:reward.redeemed"]`, "Reward redeemed: ¥5 off orders over ¥20 (100 points) code "+storeCode)

	// Messages from a foreign origin (a frame of it beside the room) are ignored: the theme stays the shop's.
	before, err := evalIn[string](room, `document.body.dataset.ignoredMessages || '0'`)
	if err != nil {
		t.Fatal(err)
	}
	page.do("frame a foreign page", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement('iframe');
		f.id = 'forge';
		f.src = `+jsString(foreign.URL+"/forge.html")+`;
		document.body.append(f);
	})()`))
	room.waitUntil("the forged messages to be ignored", func() (bool, string, error) {
		n, err := evalIn[string](room, `document.body.dataset.ignoredMessages || '0'`)
		return n == fmt.Sprint(atoi(before)+2), "ignored " + n + ", before " + before, err
	})
	if got := room.cssVar("--accent"); got != "#1d6fe8" {
		t.Errorf("after a foreign kudos:theme, --accent = %q, want the shop's #1d6fe8 kept", got)
	}
	// The shop's own theme message is taken.
	page.click("#theme-orange")
	room.waitUntil("the shop's theme message", func() (bool, string, error) {
		got := room.cssVar("--accent")
		return got == "#ff5000", got, nil
	})

	page.noExceptions()
	room.noExceptions()
}

// TestBrowserEmbedRefusedFromUnlistedOrigin: the same shop page served from an origin not in
// KUDOS_FRAME_ANCESTORS cannot frame the room: the header names only the listed origins, Chromium refuses to
// show the room in the frame, and the room never starts (no element of it, no kudos:ready, no viewer joins).
func TestBrowserEmbedRefusedFromUnlistedOrigin(t *testing.T) {
	shop, foreign := shopServer(t, nil), shopServer(t, nil)
	opts := fastLimits()
	opts.frameAncestors = []string{shop.URL}
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	kudos := kudosOrigin(t, ts)

	r := ts.do(http.MethodGet, "/embed/s1", "", nil)
	csp := r.header.Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "frame-ancestors 'self' "+shop.URL) || strings.Contains(csp, foreign.URL) {
		t.Fatalf("embed Content-Security-Policy %q: want frame-ancestors 'self' %s only", csp, shop.URL)
	}

	b := newBrowser(t)
	page := b.open("foreign-shop", shopURL(ts, foreign.URL, kudos, "bob", "s1"))
	// Chromium reports the refusal on the console of the framing page.
	page.waitUntil("Chromium to refuse the frame", func() (bool, string, error) {
		for _, m := range page.messages() {
			if strings.Contains(m.Text, "frame-ancestors") && strings.Contains(m.Text, kudos) {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d console messages", len(page.messages())), nil
	})
	// Give a room that had loaded the time to dial and greet its parent, then check that nothing of it ran.
	time.Sleep(time.Second)
	infos, err := chromedp.Targets(page.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Type != "iframe" || !strings.HasPrefix(info.URL, kudos) {
			continue
		}
		// Cancelling a context attached to a target closes that target: keep it until the test ends.
		ctx, cancel := chromedp.NewContext(page.ctx, chromedp.WithTargetID(info.TargetID))
		t.Cleanup(cancel)
		step, stop := context.WithTimeout(ctx, browserStep)
		has, err := chromedp.Run(step, chromedp.Evaluate[bool](`!!document.querySelector('#chat-list, .room')`))
		stop()
		t.Logf("frame target %s: room element %v (%v)", strings.SplitN(info.URL, "?", 2)[0], has, err)
		if err == nil && has {
			t.Fatalf("the refused frame %s shows the room", info.URL)
		}
	}
	if got, ok, err := page.textOf("#room-status"); err != nil || !ok || got != "Waiting for the live room…" {
		t.Errorf("#room-status = %q (%v, %v): the refused room greeted the page", got, ok, err)
	}
	if n := ts.reg.Viewers("s1"); n != 0 {
		t.Errorf("%d viewers on s1: the refused room joined", n)
	}
	for _, ev := range ts.sink.Events() {
		if ev.UserID == "bob" {
			t.Errorf("event %s from bob: the refused room acted", ev.Type)
		}
	}
	page.noExceptions()
}

// TestBrowserEmbedTokenRefresh: the room without a token asks its parent (kudos:token.request), which answers
// with a token from the shop's back end (kudos:token); when that token expires the server closes the socket
// (4001), the room asks again and rejoins with the fresh one.
func TestBrowserEmbedTokenRefresh(t *testing.T) {
	key, err := authtoken.NewKey([]byte("test-secret-0123456789")) // newTestServer's secret: the shop's signer
	if err != nil {
		t.Fatal(err)
	}
	var minted atomic.Int64
	shop := shopServer(t, func() string {
		life := time.Hour
		if minted.Add(1) == 1 {
			life = 3 * time.Second // the first token expires during the test
		}
		tok, _, err := key.Mint("ann", "Ann", engagement.RoleViewer, "", life)
		if err != nil {
			t.Error(err)
		}
		return tok
	})
	opts := fastLimits()
	opts.frameAncestors = []string{shop.URL}
	ts := newTestServer(t, opts)
	ts.createStream("s1")
	kudos := kudosOrigin(t, ts)
	b := newBrowser(t)

	q := url.Values{"kudos": {kudos}, "stream": {"s1"}, "token_url": {"/kudos-token"}}
	page := b.open("shop", shop.URL+"/shop.html?"+q.Encode())
	room := roomFrame(b, page, kudos+"/embed/s1")
	room.waitFor(`#conn-status[data-state="open"]`)
	room.waitText("#you-name", "Watching as Ann")
	page.waitText(`#kudos-events li[data-type="kudos:token.request"]`, "The room asked for a token (none)")

	// The first token expires: the room asks for another and is back in the room with it.
	page.waitUntil("the room to ask again for an expired token", func() (bool, string, error) {
		got, err := evalIn[string](page, `[...document.querySelectorAll('#kudos-events li[data-type="kudos:token.request"]')].map((li) => li.textContent).join(' | ')`)
		return strings.Contains(got, "(expired)"), got, err
	})
	page.waitUntil("a second token from the shop", func() (bool, string, error) {
		return minted.Load() >= 2, fmt.Sprint(minted.Load(), " minted"), nil
	})
	room.waitUntil("the room to rejoin with the fresh token", func() (bool, string, error) {
		st, err := evalIn[string](room, `document.querySelector('#conn-status').dataset.state`)
		return st == "open" && ts.reg.Viewers("s1") == 1, st, err
	})
	room.typeText("#chat-input", "Still here")
	room.click("#chat-send")
	room.waitText(`#chat-list li.chat-item.mine[data-user="ann"] .chat-text`, "Still here")
	waitEvent(ts, engagement.EventCommentPosted, "ann")
	room.noExceptions()
}

// atoi reads a decimal count written by the page (0 for anything else).
func atoi(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}
