package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// salesStoreSuite is SalesStore's part of the Store conformance suite (runStoreSuite).
var salesStoreSuite = []storeCase{
	{"CountsAndRefund", testSalesStore},
	{"ConcurrentOrders", testSalesStoreConcurrent},
}

// salesAgedSuite is SalesStore's part of the suite's lifetime cases (runStoreSuite).
var salesAgedSuite = []agedCase{
	{"Lifetime", testSalesLifetime},
}

// testSalesLifetime: a stream's sales live DefaultStreamTTL after their last write, then are gone.
func testSalesLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	_, err := s.RecordSale(ctx, "st", SaleOrder{ID: "o1", User: "ann", AmountFen: 100, Items: []SaleItem{{"p1", 1, 100}}})
	noErr(t, err)
	noErr(t, s.CountSaleViewer(ctx, "st", "ann"))
	age(DefaultStreamTTL - time.Hour)
	noErr(t, s.CountSaleClick(ctx, "st", "p1")) // a write keeps them
	age(2 * time.Hour)
	noErr(t, s.CountSaleClick(ctx, "other", "p1")) // a write (in memory: the prune)
	sa, err := s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 1 || sa.Viewers != 1 || productSalesOf(sa, "p1").Clicks != 1 {
		t.Fatalf("sales before their lifetime ended = %+v", sa)
	}
	age(DefaultStreamTTL)
	noErr(t, s.CountSaleClick(ctx, "other", "p1"))
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 0 || sa.Buyers != 0 || sa.Viewers != 0 || len(sa.Products) != 0 {
		t.Fatalf("sales after their lifetime = %+v", sa)
	}
	if counted, _ := s.RecordSale(ctx, "st", SaleOrder{ID: "o1", User: "ann", AmountFen: 100}); !counted {
		t.Fatal("an order forgotten with its stream's sales was not counted anew")
	}
}

func productSalesOf(sa Sales, id string) ProductSales {
	for _, p := range sa.Products {
		if p.ProductID == id {
			return p
		}
	}
	return ProductSales{ProductID: id}
}

// testSalesStore: orders, buyers, GMV, viewers and per-product counts; a replayed order counts once; a refund
// subtracts what it refunds once per refund id, the order when it is whole; streams are apart.
func testSalesStore(t *testing.T, s Store) {
	ctx := context.Background()
	sa, err := s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 0 || sa.Buyers != 0 || sa.GMVFen != 0 || sa.Viewers != 0 || len(sa.Products) != 0 {
		t.Fatalf("empty sales = %+v", sa)
	}
	o1 := SaleOrder{ID: "o1", User: "ann", AmountFen: 2*9900 + 500, Items: []SaleItem{{"p1", 2, 9900}, {"p2", 1, 500}}}
	counted, err := s.RecordSale(ctx, "st", o1)
	noErr(t, err)
	if !counted {
		t.Fatal("first order not counted")
	}
	counted, err = s.RecordSale(ctx, "st", o1)
	noErr(t, err)
	if counted {
		t.Fatal("replayed order counted again")
	}
	_, err = s.RecordSale(ctx, "st", SaleOrder{ID: "o2", User: "ann", AmountFen: 9900, Items: []SaleItem{{"p1", 1, 9900}}})
	noErr(t, err)
	_, err = s.RecordSale(ctx, "st", SaleOrder{ID: "o3", User: "bob", AmountFen: 300}) // no items
	noErr(t, err)
	_, err = s.RecordSale(ctx, "other", SaleOrder{ID: "o1", User: "cy", AmountFen: 1})
	noErr(t, err)
	noErr(t, s.CountSaleClick(ctx, "st", "p1"))
	noErr(t, s.CountSaleClick(ctx, "st", "p1"))
	noErr(t, s.CountSaleClick(ctx, "st", "p3"))
	for _, u := range []string{"ann", "bob", "cy", "ann"} {
		noErr(t, s.CountSaleViewer(ctx, "st", u))
	}
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 3 || sa.Buyers != 2 || sa.GMVFen != 2*9900+500+9900+300 || sa.Viewers != 3 {
		t.Fatalf("sales = %+v", sa)
	}
	if p := productSalesOf(sa, "p1"); p != (ProductSales{ProductID: "p1", Clicks: 2, Orders: 2, Units: 3, GMVFen: 3 * 9900}) {
		t.Fatalf("p1 = %+v", p)
	}
	if p := productSalesOf(sa, "p2"); p != (ProductSales{ProductID: "p2", Orders: 1, Units: 1, GMVFen: 500}) {
		t.Fatalf("p2 = %+v", p)
	}
	if p := productSalesOf(sa, "p3"); p != (ProductSales{ProductID: "p3", Clicks: 1}) {
		t.Fatalf("p3 = %+v", p)
	}
	if len(sa.Products) != 3 {
		t.Fatalf("products = %+v", sa.Products)
	}

	whole := func(id string, amount int64) SaleRefund {
		return SaleRefund{OrderID: id, ID: wholeRefundID, AmountFen: amount, Full: true}
	}
	refunded, err := s.RefundSale(ctx, "st", whole("o1", o1.AmountFen))
	noErr(t, err)
	if !refunded {
		t.Fatal("refund of a counted order did nothing")
	}
	for _, r := range []SaleRefund{whole("o1", o1.AmountFen), {OrderID: "o1", ID: "late", AmountFen: 1}, whole("nope", 1)} {
		refunded, err = s.RefundSale(ctx, "st", r)
		noErr(t, err)
		if refunded {
			t.Fatalf("refund %+v counted", r)
		}
	}
	if counted, _ = s.RecordSale(ctx, "st", o1); counted {
		t.Fatal("a refunded order counted again")
	}
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 2 || sa.Buyers != 2 || sa.GMVFen != 9900+300 {
		t.Fatalf("after the refund: %+v", sa)
	}
	if p := productSalesOf(sa, "p1"); p != (ProductSales{ProductID: "p1", Clicks: 2, Orders: 1, Units: 1, GMVFen: 9900}) {
		t.Fatalf("p1 after the refund = %+v", p)
	}
	if p := productSalesOf(sa, "p2"); p.Orders != 0 || p.Units != 0 || p.GMVFen != 0 {
		t.Fatalf("p2 after the refund = %+v", p)
	}

	// Partial refunds: by amount (GMV only), by items (their product too), once per id; the refund that makes
	// an order whole subtracts the order and what is left of it; a buyer with no order left stops counting.
	for _, r := range []SaleRefund{{OrderID: "o3", ID: "r1", AmountFen: 100}, {OrderID: "o3", ID: "r1", AmountFen: 100}} {
		_, err = s.RefundSale(ctx, "st", r)
		noErr(t, err)
	}
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 2 || sa.Buyers != 2 || sa.GMVFen != 9900+200 {
		t.Fatalf("after a part of o3 (and its replay): %+v", sa)
	}
	_, err = s.RefundSale(ctx, "st", whole("o3", 200))
	noErr(t, err)
	_, err = s.RefundSale(ctx, "st", SaleRefund{OrderID: "o2", ID: "ri", AmountFen: 9900, Items: []SaleItem{{"p1", 1, 9900}, {"p9", 1, 5}}})
	noErr(t, err)
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 1 || sa.Buyers != 1 || sa.GMVFen != 0 {
		t.Fatalf("after o3 whole and o2's item: %+v", sa)
	}
	if p := productSalesOf(sa, "p1"); p != (ProductSales{ProductID: "p1", Clicks: 2, Orders: 1, Units: 0, GMVFen: 0}) {
		t.Fatalf("p1 after its unit came back = %+v", p)
	}
	if p := productSalesOf(sa, "p9"); p.Units != 0 || p.GMVFen != 0 {
		t.Fatalf("a product not in the order was touched: %+v", p)
	}
	_, err = s.RefundSale(ctx, "st", whole("o2", 0))
	noErr(t, err)
	sa, err = s.Sales(ctx, "st")
	noErr(t, err)
	if sa.Orders != 0 || sa.Buyers != 0 || sa.GMVFen != 0 {
		t.Fatalf("after every order refunded whole: %+v", sa)
	}
	if p := productSalesOf(sa, "p1"); p != (ProductSales{ProductID: "p1", Clicks: 2}) {
		t.Fatalf("p1 after every order refunded = %+v", p)
	}
	other, err := s.Sales(ctx, "other")
	noErr(t, err)
	if other.Orders != 1 || other.Buyers != 1 || other.GMVFen != 1 || other.Viewers != 0 {
		t.Fatalf("other stream = %+v", other)
	}
}

// testSalesStoreConcurrent: concurrent orders (each posted twice at once) are each counted exactly once.
func testSalesStoreConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for i := range 2 * n {
		wg.Go(func() {
			o := SaleOrder{ID: fmt.Sprintf("o%d", i%n), User: fmt.Sprintf("u%d", i%5), AmountFen: 100, Items: []SaleItem{{"p1", 1, 100}}}
			ok, err := s.RecordSale(ctx, "st", o)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sa, err := s.Sales(ctx, "st")
	noErr(t, err)
	if counted != n || sa.Orders != n || sa.GMVFen != n*100 || sa.Buyers != 5 {
		t.Fatalf("counted %d, sales %+v; want %d orders from 5 buyers", counted, sa, n)
	}
	if p := productSalesOf(sa, "p1"); p.Orders != n || p.Units != n || p.GMVFen != n*100 {
		t.Fatalf("p1 = %+v", p)
	}
}

// TestStreamSales: the Service keeps a stream's sales as purchases, counted clicks and viewer joins happen;
// a replayed purchase counts once, a refund subtracts; only the host, an admin or the shop reads them.
func TestStreamSales(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	for _, id := range []string{"p1", "p2"} {
		_, err := f.svc.AddProduct(ctx, f.host1, "s1", testProduct(id))
		noErr(t, err)
	}
	for _, u := range []string{"ann", "bob", "cy", "dan"} {
		_, err := f.svc.Join(ctx, viewer(u), "s1")
		noErr(t, err)
	}
	_, err := f.svc.Join(ctx, f.host1, "s1") // the host is not audience
	noErr(t, err)
	for _, u := range []string{"ann", "ann", "bob"} { // ann's second click is in the window: not counted
		_, err := f.svc.ClickProduct(ctx, viewer(u), "s1", "p1")
		noErr(t, err)
	}
	buy := Purchase{OrderID: "o1", UserID: "ann", StreamID: "s1", Items: []SaleItem{{ProductID: "p1", Qty: 2, PriceFen: 9900}}}
	res, _, err := f.svc.RecordPurchase(ctx, shop, buy)
	noErr(t, err)
	if res.Replayed {
		t.Fatal("first purchase replayed")
	}
	res, _, err = f.svc.RecordPurchase(ctx, shop, buy)
	noErr(t, err)
	if !res.Replayed {
		t.Fatal("second post not a replay")
	}
	_, _, err = f.svc.RecordPurchase(ctx, shop, Purchase{OrderID: "o2", UserID: "bob", StreamID: "s1", AmountFen: 500})
	noErr(t, err)
	_, _, err = f.svc.RecordPurchase(ctx, shop, Purchase{OrderID: "o3", UserID: "cy", AmountFen: 500}) // no stream
	noErr(t, err)

	sa, err := f.svc.StreamSales(ctx, f.host1, "s1")
	noErr(t, err)
	if sa.Stream != "s1" || sa.Orders != 2 || sa.Buyers != 2 || sa.GMVFen != 2*9900+500 || sa.Viewers != 4 || sa.Conversion != 0.5 {
		t.Fatalf("sales = %+v", sa)
	}
	if len(sa.Products) != 1 || sa.Products[0] != (ProductSales{ProductID: "p1", Title: "Product p1", Clicks: 2, Orders: 1, Units: 2, GMVFen: 2 * 9900}) {
		t.Fatalf("products = %+v", sa.Products)
	}

	_, err = f.svc.RefundPurchase(ctx, shop, "o1", Refund{})
	noErr(t, err)
	sa, err = f.svc.StreamSales(ctx, shop, "s1")
	noErr(t, err)
	if sa.Orders != 1 || sa.GMVFen != 500 || sa.Buyers != 1 || sa.Products[0].Orders != 0 || sa.Products[0].GMVFen != 0 {
		t.Fatalf("after the refund: %+v", sa)
	}

	_, err = f.svc.StreamSales(ctx, f.host2, "s1")
	wantHostCode(t, err, CodeForbidden)
	_, err = f.svc.StreamSales(ctx, viewer("ann"), "s1")
	wantHostCode(t, err, CodeForbidden)
	_, err = f.svc.StreamSales(ctx, Actor{User: "root", Role: RoleAdmin}, "s1")
	wantHostCode(t, err, "")
	_, err = f.svc.StreamSales(ctx, f.host1, "nope")
	wantHostCode(t, err, CodeNotFound)
	empty, err := f.svc.StreamSales(ctx, f.host2, "s2")
	noErr(t, err)
	if empty.Conversion != 0 || empty.Products == nil {
		t.Fatalf("empty sales = %+v", empty)
	}
}

// TestPurchaseItemsAndPaidAt: items give the amount (or must match it); paid_at is checked and becomes the
// award's time; a replay with other content is a conflict; the event carries the items.
func TestPurchaseItemsAndPaidAt(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	now := f.clock.Now()
	items := []SaleItem{{ProductID: "p1", Qty: 2, PriceFen: 1000}, {ProductID: "p2", Qty: 1, PriceFen: 550}}
	bad := []struct {
		name  string
		p     Purchase
		field string
	}{
		{"amount differs from items", Purchase{OrderID: "b1", UserID: "ann", AmountFen: 100, Items: items}, "amount_fen"},
		{"qty 0", Purchase{OrderID: "b2", UserID: "ann", Items: []SaleItem{{"p1", 0, 100}}}, "items"},
		{"qty 1000", Purchase{OrderID: "b3", UserID: "ann", Items: []SaleItem{{"p1", 1000, 100}}}, "items"},
		{"bad product id", Purchase{OrderID: "b4", UserID: "ann", Items: []SaleItem{{"a:b", 1, 100}}}, "items"},
		{"zero price", Purchase{OrderID: "b5", UserID: "ann", Items: []SaleItem{{"p1", 1, 0}}}, "items"},
		{"empty items", Purchase{OrderID: "b6", UserID: "ann", AmountFen: 100, Items: []SaleItem{}}, "items"},
		{"paid in the future", Purchase{OrderID: "b7", UserID: "ann", AmountFen: 100, PaidAt: now.Add(2 * time.Minute)}, "paid_at"},
		{"paid too long ago", Purchase{OrderID: "b8", UserID: "ann", AmountFen: 100, PaidAt: now.AddDate(0, -3, 0)}, "paid_at"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.RecordPurchase(ctx, shop, tt.p)
			wantHostCode(t, err, CodeInvalid)
			if got := FieldOf(err); got != tt.field {
				t.Fatalf("field = %q, want %q (%v)", got, tt.field, err)
			}
		})
	}
	paid := now.Add(-time.Hour)
	p := Purchase{OrderID: "o1", UserID: "ann", StreamID: "s1", Items: items, PaidAt: paid}
	_, _, err := f.svc.RecordPurchase(ctx, shop, p)
	noErr(t, err)
	// Items in another order replay; other content conflicts.
	re := p
	re.Items = []SaleItem{items[1], items[0]}
	re.AmountFen = 2550
	res, _, err := f.svc.RecordPurchase(ctx, shop, re)
	noErr(t, err)
	if !res.Replayed {
		t.Fatal("same content, items reordered: not a replay")
	}
	for name, edit := range map[string]func(*Purchase){
		"qty":     func(q *Purchase) { q.Items = []SaleItem{{"p1", 1, 1000}, {"p2", 1, 550}} },
		"product": func(q *Purchase) { q.Items = []SaleItem{{"p1", 2, 1000}, {"p3", 1, 550}} },
		"stream":  func(q *Purchase) { q.StreamID = "s2" },
		"paid_at": func(q *Purchase) { q.PaidAt = paid.Add(time.Second) },
	} {
		q := p
		q.Items = items
		edit(&q)
		_, _, err := f.svc.RecordPurchase(ctx, shop, q)
		if CodeOf(err) != CodeConflict {
			t.Fatalf("replay with another %s: err = %v, want conflict", name, err)
		}
	}
	ev := f.eventsOf(EventPurchaseRecorded)
	if len(ev) == 0 {
		t.Fatal("no purchase.recorded event")
	}
	var data struct {
		AmountFen int64      `json:"amount_fen"`
		Items     []SaleItem `json:"items"`
	}
	noErr(t, json.Unmarshal(ev[0].Data, &data))
	if data.AmountFen != 2550 || len(data.Items) != 2 || data.Items[0] != items[0] {
		t.Fatalf("event data = %+v", data)
	}
	if !ev[0].Time.Equal(paid) {
		t.Fatalf("event time = %v, want paid_at %v", ev[0].Time, paid)
	}
}

// TestRedisSalesKeys: the documented sales keys, their types, and that each expires StreamTTL after a write.
func TestRedisSalesKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	_, err := s.RecordSale(ctx, "s1", SaleOrder{ID: "o1", User: "u1", AmountFen: 100, Items: []SaleItem{{"p1", 1, 100}}})
	noErr(t, err)
	_, err = s.RecordSale(ctx, "s1", SaleOrder{ID: "o2", User: "u1", AmountFen: 100}) // u1 stays a buyer
	noErr(t, err)
	_, err = s.RefundSale(ctx, "s1", SaleRefund{OrderID: "o1", ID: wholeRefundID, AmountFen: 100, Full: true})
	noErr(t, err)
	noErr(t, s.CountSaleClick(ctx, "s1", "p1"))
	noErr(t, s.CountSaleViewer(ctx, "s1", "u1"))
	keys := []struct{ key, typ string }{
		{"stream:{s1}:sales", "hash"},
		{"stream:{s1}:sales:orders", "hash"},
		{"stream:{s1}:sales:refunded", "set"},
		{"stream:{s1}:sales:buyer-orders", "hash"},
		{"stream:{s1}:sales:viewers", "string"}, // a HyperLogLog
	}
	for _, k := range keys {
		key := prefix + k.key
		typ, err := rdb.Type(ctx, key).Result()
		noErr(t, err)
		if typ != k.typ {
			t.Errorf("TYPE %s = %s, want %s", k.key, typ, k.typ)
		}
		if got, err := rdb.PTTL(ctx, key).Result(); err != nil || got <= ttl-time.Minute/2 || got > ttl {
			t.Errorf("PTTL %s = %v (%v), want in (%v, %v]", k.key, got, err, ttl-time.Minute/2, ttl)
		}
	}
	if n, err := rdb.PFCount(ctx, prefix+"stream:{s1}:sales:viewers").Result(); err != nil || n != 1 {
		t.Errorf("PFCOUNT viewers = %d (%v), want 1", n, err)
	}
}

// TestRedisSalesUnavailable: every SalesStore method wraps a Redis failure around ErrUnavailable.
func TestRedisSalesUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewRedisStore(rdb, RedisConfig{})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"RecordSale": func() error {
			_, err := s.RecordSale(ctx, "s1", SaleOrder{ID: "o1", User: "u1", AmountFen: 1})
			return err
		},
		"RefundSale":      func() error { _, err := s.RefundSale(ctx, "s1", SaleRefund{OrderID: "o1"}); return err },
		"CountSaleClick":  func() error { return s.CountSaleClick(ctx, "s1", "p1") },
		"CountSaleViewer": func() error { return s.CountSaleViewer(ctx, "s1", "u1") },
		"Sales":           func() error { _, err := s.Sales(ctx, "s1"); return err },
	} {
		if err := call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}
