package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func testProduct(id string) Product {
	return Product{ID: id, Title: "Product " + id, PriceFen: 9900, URL: "https://shop.example/p/" + id}
}

func productIDs(ps []Product) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return strings.Join(ids, ",")
}

func TestProductInvalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name  string
		edit  func(p *Product)
		field string
	}{
		{"empty id", func(p *Product) { p.ID = "" }, "id"},
		{"long id", func(p *Product) { p.ID = long(MaxProductIDLen + 1) }, "id"},
		{"id with a colon", func(p *Product) { p.ID = "a:b" }, "id"},
		{"id with a space", func(p *Product) { p.ID = "a b" }, "id"},
		{"empty title", func(p *Product) { p.Title = "  " }, "title"},
		{"long title", func(p *Product) { p.Title = strings.Repeat("鞋", MaxProductTitleRunes+1) }, "title"},
		{"zero price", func(p *Product) { p.PriceFen = 0 }, "price_fen"},
		{"negative price", func(p *Product) { p.PriceFen = -1 }, "price_fen"},
		{"huge price", func(p *Product) { p.PriceFen = MaxPriceFen + 1 }, "price_fen"},
		{"list below price", func(p *Product) { p.ListPriceFen = p.PriceFen - 1 }, "list_price_fen"},
		{"huge list price", func(p *Product) { p.ListPriceFen = MaxPriceFen + 1 }, "list_price_fen"},
		{"no url", func(p *Product) { p.URL = "" }, "url"},
		{"javascript url", func(p *Product) { p.URL = "javascript:alert(1)" }, "url"},
		{"relative url", func(p *Product) { p.URL = "/p/1" }, "url"},
		{"long url", func(p *Product) { p.URL = "https://shop.example/" + long(MaxProductURLLen) }, "url"},
		{"http image", func(p *Product) { p.ImageURL = "http://cdn.example/a.jpg" }, "image_url"},
		{"protocol-relative image", func(p *Product) { p.ImageURL = "//evil.example/a.jpg" }, "image_url"},
		{"data image", func(p *Product) { p.ImageURL = "data:image/png;base64,AAAA" }, "image_url"},
		{"long image", func(p *Product) { p.ImageURL = "/" + long(MaxProductURLLen) }, "image_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFixture(t, 0)
			p := testProduct("p1")
			tt.edit(&p)
			_, err := f.svc.AddProduct(context.Background(), f.host1, "s1", p)
			if !isInvalidField(err, tt.field) {
				t.Fatalf("err = %#v, want invalid with field %q", err, tt.field)
			}
		})
	}
	// The edges are accepted.
	f := newHostFixture(t, 0)
	ok := []Product{
		{ID: long(MaxProductIDLen), Title: strings.Repeat("鞋", MaxProductTitleRunes), PriceFen: MaxPriceFen, ListPriceFen: MaxPriceFen, URL: "http://shop.example/x"},
		{ID: "A_b-9", Title: "x", PriceFen: 1, ListPriceFen: 1, ImageURL: "/assets/logo.svg", URL: "https://shop.example/y"},
		{ID: "img", Title: "x", PriceFen: 1, ImageURL: "https://cdn.example/a.jpg", URL: "https://shop.example/z"},
	}
	for _, p := range ok {
		if _, err := f.svc.AddProduct(context.Background(), f.host1, "s1", p); err != nil {
			t.Errorf("add %+v: %v", p, err)
		}
	}
}

func TestProductShelf(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	admin := Actor{User: "admin", Role: RoleAdmin}

	_, err := f.svc.AddProduct(ctx, f.host1, "s1", testProduct("p1"))
	wantHostCode(t, err, "")
	_, err = f.svc.AddProduct(ctx, shop, "s1", testProduct("p2"))
	wantHostCode(t, err, "")
	_, err = f.svc.AddProduct(ctx, admin, "s1", testProduct("p3"))
	wantHostCode(t, err, "")
	_, err = f.svc.AddProduct(ctx, viewer("v1"), "s1", testProduct("p4"))
	wantHostCode(t, err, CodeForbidden)
	_, err = f.svc.AddProduct(ctx, f.host2, "s1", testProduct("p4"))
	wantHostCode(t, err, CodeForbidden)
	_, err = f.svc.AddProduct(ctx, f.host1, "s1", testProduct("p1"))
	wantHostCode(t, err, CodeDuplicate)
	_, err = f.svc.AddProduct(ctx, f.host1, "nope", testProduct("p1"))
	wantHostCode(t, err, CodeNotFound)
	if n := len(f.eventsOf(EventProductAdded)); n != 3 {
		t.Fatalf("%d product.added events, want 3", n)
	}

	ps, err := f.svc.Products(ctx, "s1")
	noErr(t, err)
	if got := productIDs(ps); got != "p1,p2,p3" {
		t.Fatalf("shelf = %s, want p1,p2,p3", got)
	}
	if ps, err := f.svc.Products(ctx, "s2"); err != nil || ps == nil || len(ps) != 0 {
		t.Fatalf("empty shelf = %v (%v), want []", ps, err)
	}
	_, err = f.svc.Products(ctx, "nope")
	wantHostCode(t, err, CodeNotFound)

	// Pinning broadcasts the product and puts it in the welcome.
	_, _, err = f.svc.PinProduct(ctx, viewer("v1"), "s1", "p2")
	wantHostCode(t, err, CodeForbidden)
	_, _, err = f.svc.PinProduct(ctx, f.host1, "s1", "nope")
	wantHostCode(t, err, CodeNotFound)
	p, out, err := f.svc.PinProduct(ctx, f.host1, "s1", "p2")
	noErr(t, err)
	fr := framesOf(out.Broadcast, "product.pinned")
	if p.ID != "p2" || len(fr) != 1 || fr[0].Data.(map[string]any)["product"].(Product).ID != "p2" {
		t.Fatalf("pin = %+v, %+v", p, out)
	}
	if n := len(f.eventsOf(EventProductPinned)); n != 1 {
		t.Fatalf("%d product.pinned events, want 1", n)
	}
	w, err := f.svc.Join(ctx, viewer("v1"), "s1")
	noErr(t, err)
	if wp, ok := w.Product.(Product); !ok || wp.ID != "p2" {
		t.Fatalf("welcome product = %#v, want p2", w.Product)
	}

	// Unpinning another product changes nothing; unpinning the pinned one tells viewers.
	out, err = f.svc.UnpinProduct(ctx, f.host1, "s1", "p1")
	noErr(t, err)
	if len(out.Broadcast) != 0 {
		t.Fatalf("unpin of a product not pinned broadcast %+v", out.Broadcast)
	}
	out, err = f.svc.UnpinProduct(ctx, f.host1, "s1", "p2")
	noErr(t, err)
	if fr := framesOf(out.Broadcast, "product.unpinned"); len(fr) != 1 || fr[0].Data.(map[string]any)["product_id"] != "p2" {
		t.Fatalf("unpin = %+v", out)
	}
	if w, _ := f.svc.Join(ctx, viewer("v2"), "s1"); w.Product != nil {
		t.Fatalf("welcome after unpin has product %#v", w.Product)
	}
	_, err = f.svc.UnpinProduct(ctx, f.host1, "s1", "nope")
	wantHostCode(t, err, CodeNotFound)

	// Removing the pinned product unpins it.
	_, _, err = f.svc.PinProduct(ctx, shop, "s1", "p3")
	noErr(t, err)
	_, err = f.svc.RemoveProduct(ctx, viewer("v1"), "s1", "p3")
	wantHostCode(t, err, CodeForbidden)
	out, err = f.svc.RemoveProduct(ctx, f.host1, "s1", "p3")
	noErr(t, err)
	if len(framesOf(out.Broadcast, "product.unpinned")) != 1 {
		t.Fatalf("remove of the pinned product = %+v, want product.unpinned", out)
	}
	out, err = f.svc.RemoveProduct(ctx, f.host1, "s1", "p1")
	noErr(t, err)
	if len(out.Broadcast) != 0 {
		t.Fatalf("remove of a product not pinned broadcast %+v", out.Broadcast)
	}
	_, err = f.svc.RemoveProduct(ctx, f.host1, "s1", "p1")
	wantHostCode(t, err, CodeNotFound)
	ps, _ = f.svc.Products(ctx, "s1")
	if got := productIDs(ps); got != "p2" {
		t.Fatalf("shelf after removals = %s, want p2", got)
	}
}

func TestProductShelfCap(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	for i := range MaxProducts {
		_, err := f.svc.AddProduct(ctx, f.host1, "s1", testProduct(fmt.Sprintf("p%d", i)))
		noErr(t, err)
	}
	_, err := f.svc.AddProduct(ctx, f.host1, "s1", testProduct("one-more"))
	wantHostCode(t, err, CodeClosed)
	if !strings.Contains(MessageOf(err), fmt.Sprint(MaxProducts)) {
		t.Fatalf("message %q does not name the cap", MessageOf(err))
	}
	_, err = f.svc.RemoveProduct(ctx, f.host1, "s1", "p0")
	noErr(t, err)
	_, err = f.svc.AddProduct(ctx, f.host1, "s1", testProduct("one-more"))
	noErr(t, err)
}

func TestProductClick(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	_, err := f.svc.AddProduct(ctx, f.host1, "s1", testProduct("p1"))
	noErr(t, err)
	click := func(user, id string) error {
		t.Helper()
		a, ok := NewAction("product.click")
		if !ok {
			t.Fatal("product.click is not registered")
		}
		if err := json.Unmarshal([]byte(`{"product_id":"`+id+`"}`), a); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Handle(ctx, viewer(user), "s1", a)
		return err
	}
	noErr(t, click("v1", "p1"))
	noErr(t, click("v1", "p1")) // acked, no second event within the window
	noErr(t, click("v2", "p1"))
	ev := f.eventsOf(EventProductClicked)
	if len(ev) != 2 {
		t.Fatalf("%d product.clicked events, want 2", len(ev))
	}
	var data map[string]any
	noErr(t, json.Unmarshal(ev[0].Data, &data))
	if data["stream"] != "s1" || data["product_id"] != "p1" || ev[0].UserID != "v1" || ev[0].Subject != "s1" {
		t.Fatalf("event = %+v, data %v", ev[0], data)
	}
	// The window runs on the store's clock: testProductClickWindow (the store suite) shows a click counts
	// again after it. Another product counts at once.
	_, err = f.svc.AddProduct(ctx, f.host1, "s1", testProduct("p2"))
	noErr(t, err)
	noErr(t, click("v1", "p2"))
	if n := len(f.eventsOf(EventProductClicked)); n != 3 {
		t.Fatalf("%d product.clicked events after a click on another product, want 3", n)
	}

	wantHostCode(t, click("v1", "nope"), CodeNotFound)
	wantHostCode(t, click("v1", "a:b"), CodeNotFound)
	wantHostCode(t, click("v1", ""), CodeInvalid)
	_, err = f.svc.Moderate(ctx, f.host1, "s1", ModerationAction{Action: ModBan, User: "bad"})
	noErr(t, err)
	wantHostCode(t, click("bad", "p1"), CodeForbidden)
	if n := len(f.eventsOf(EventProductClicked)); n != 3 {
		t.Fatalf("refused clicks wrote events: %d, want 3", n)
	}
}

func testProductStore(t *testing.T, s Store) {
	ctx := context.Background()
	ps, err := s.Products(ctx, "st")
	noErr(t, err)
	if len(ps) != 0 {
		t.Fatalf("empty shelf = %v", ps)
	}
	_, err = s.Pinned(ctx, "st")
	isErr(t, err, ErrNotFound)
	p1 := testProduct("p1")
	p1.ListPriceFen, p1.ImageURL = 12900, "https://cdn.example/p1.jpg"
	for _, p := range []Product{p1, testProduct("p2"), testProduct("p3")} {
		noErr(t, s.AddProduct(ctx, "st", p, 10))
	}
	isErr(t, s.AddProduct(ctx, "st", testProduct("p2"), 10), ErrDuplicate)
	noErr(t, s.AddProduct(ctx, "other", testProduct("p1"), 10))
	ps, err = s.Products(ctx, "st")
	noErr(t, err)
	if got := productIDs(ps); got != "p1,p2,p3" {
		t.Fatalf("shelf = %s", got)
	}
	sameJSON(t, "first product", ps[0], p1)
	got, err := s.Product(ctx, "st", "p1")
	noErr(t, err)
	sameJSON(t, "product", got, p1)
	_, err = s.Product(ctx, "st", "nope")
	isErr(t, err, ErrNotFound)

	_, err = s.PinProduct(ctx, "st", "nope")
	isErr(t, err, ErrNotFound)
	pinned, err := s.PinProduct(ctx, "st", "p1")
	noErr(t, err)
	sameJSON(t, "pinned", pinned, p1)
	_, err = s.PinProduct(ctx, "st", "p2") // replaces p1
	noErr(t, err)
	cur, err := s.Pinned(ctx, "st")
	noErr(t, err)
	if cur.ID != "p2" {
		t.Fatalf("pinned = %s, want p2", cur.ID)
	}
	if _, err := s.Pinned(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other stream's pinned: %v", err)
	}
	was, err := s.UnpinProduct(ctx, "st", "p1")
	noErr(t, err)
	if was {
		t.Fatal("unpin of p1 reported it was pinned")
	}
	_, err = s.UnpinProduct(ctx, "st", "nope")
	isErr(t, err, ErrNotFound)
	was, err = s.UnpinProduct(ctx, "st", "p2")
	noErr(t, err)
	if !was {
		t.Fatal("unpin of p2 reported it was not pinned")
	}
	_, err = s.Pinned(ctx, "st")
	isErr(t, err, ErrNotFound)

	_, err = s.PinProduct(ctx, "st", "p3")
	noErr(t, err)
	removed, err := s.RemoveProduct(ctx, "st", "p3")
	noErr(t, err)
	if !removed {
		t.Fatal("removing the pinned product did not report it pinned")
	}
	_, err = s.Pinned(ctx, "st")
	isErr(t, err, ErrNotFound)
	removed, err = s.RemoveProduct(ctx, "st", "p1")
	noErr(t, err)
	if removed {
		t.Fatal("removing p1 reported it pinned")
	}
	_, err = s.RemoveProduct(ctx, "st", "p1")
	isErr(t, err, ErrNotFound)
	ps, _ = s.Products(ctx, "st")
	if got := productIDs(ps); got != "p2" {
		t.Fatalf("shelf after removals = %s, want p2", got)
	}
	noErr(t, s.AddProduct(ctx, "st", testProduct("p1"), 10)) // back, at the end
	ps, _ = s.Products(ctx, "st")
	if got := productIDs(ps); got != "p2,p1" {
		t.Fatalf("shelf = %s, want p2,p1", got)
	}
}

// testProductStoreCap: concurrent adds never pass the cap.
func testProductStoreCap(t *testing.T, s Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	added, full := 0, 0
	for i := range 30 {
		wg.Go(func() {
			err := s.AddProduct(ctx, "st", testProduct(fmt.Sprintf("p%d", i)), 10)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				added++
			case errors.Is(err, ErrFull) && bare(err):
				full++
			default:
				t.Errorf("add: %v", err)
			}
		})
	}
	wg.Wait()
	ps, err := s.Products(ctx, "st")
	noErr(t, err)
	if added != 10 || full != 20 || len(ps) != 10 {
		t.Fatalf("added %d, full %d, shelf %d; want 10, 20, 10", added, full, len(ps))
	}
}

// productStoreSuite is ProductStore's part of the Store conformance suite (runStoreSuite).
var productStoreSuite = []storeCase{
	{"AddPinRemove", testProductStore},
	{"Cap", testProductStoreCap},
}

// productAgedSuite is ProductStore's part of the suite's lifetime cases (runStoreSuite).
var productAgedSuite = []agedCase{
	{"ClickWindow", testProductClickWindow},
	{"Lifetime", testProductLifetime},
}

// testProductClickWindow: a click is first once per user and product per ProductClickWindow.
func testProductClickWindow(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	mark := func(stream, id, user string, want bool) {
		t.Helper()
		first, err := s.MarkProductClick(ctx, stream, id, user)
		noErr(t, err)
		if first != want {
			t.Fatalf("click %s/%s by %s: first = %v, want %v", stream, id, user, first, want)
		}
	}
	mark("st", "p1", "u1", true)
	mark("st", "p1", "u1", false)
	mark("st", "p1", "u2", true)
	mark("st", "p2", "u1", true)
	mark("other", "p1", "u1", true)
	age(ProductClickWindow - time.Second)
	mark("st", "p1", "u1", false)
	age(time.Second)
	mark("st", "p1", "u1", true)
	mark("st", "p1", "u1", false)
}

// testProductLifetime: a stream's shelf and pinned product live StreamTTL after their last write.
func testProductLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	noErr(t, s.AddProduct(ctx, "s1", testProduct("p1"), 10))
	_, err := s.PinProduct(ctx, "s1", "p1")
	noErr(t, err)
	age(DefaultStreamTTL - time.Minute)
	noErr(t, s.AddProduct(ctx, "s2", testProduct("p2"), 10))
	if _, err := s.Pinned(ctx, "s1"); err != nil {
		t.Fatalf("a minute before StreamTTL: %v", err)
	}
	age(time.Minute)
	noErr(t, s.AddProduct(ctx, "s3", testProduct("p3"), 10))
	ps, err := s.Products(ctx, "s1")
	noErr(t, err)
	if len(ps) != 0 {
		t.Fatalf("at StreamTTL the shelf is still there: %v", ps)
	}
	_, err = s.Pinned(ctx, "s1")
	isErr(t, err, ErrNotFound)
	_, err = s.Product(ctx, "s1", "p1")
	isErr(t, err, ErrNotFound)
	if ps, _ := s.Products(ctx, "s2"); len(ps) != 1 {
		t.Fatalf("the other stream's shelf: %v", ps)
	}
}

// TestRedisProductKeys checks the documented layout of the shelf's keys and that each expires StreamTTL after
// a write (the click mark: ProductClickWindow).
func TestRedisProductKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	noErr(t, s.AddProduct(ctx, "s1", testProduct("p1"), 10))
	_, err := s.PinProduct(ctx, "s1", "p1")
	noErr(t, err)
	_, err = s.MarkProductClick(ctx, "s1", "p1", "u1")
	noErr(t, err)
	keys := []struct {
		key, typ string
		ttl      time.Duration
	}{
		{"stream:{s1}:products", "hash", ttl},
		{"stream:{s1}:products:order", "list", ttl},
		{"stream:{s1}:products:pinned", "string", ttl},
		{"stream:{s1}:product-click:p1:u1", "string", ProductClickWindow},
	}
	for _, k := range keys {
		key := prefix + k.key
		typ, err := rdb.Type(ctx, key).Result()
		noErr(t, err)
		if typ != k.typ {
			t.Errorf("TYPE %s = %s, want %s", k.key, typ, k.typ)
		}
		if got, err := rdb.PTTL(ctx, key).Result(); err != nil || got <= k.ttl-time.Minute/2 || got > k.ttl {
			t.Errorf("PTTL %s = %v (%v), want in (%v, %v]", k.key, got, err, k.ttl-time.Minute/2, k.ttl)
		}
	}
}
