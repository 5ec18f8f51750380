package engagement

import (
	"context"
	"testing"
	"time"
)

// TestRedisSalesFromBeforePartialRefunds: a stream whose sales the previous version wrote (the buyers a set
// of users, orders without what is left of them) keeps counting on a new node: a new order and its refund
// count and come back exactly, a legacy order refunded whole comes off the counters, its buyer stops counting
// once they have no order left, and nothing goes below zero.
func TestRedisSalesFromBeforePartialRefunds(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: time.Hour})
	k := prefix + "stream:{s1}:sales"
	// What the previous sales_record.lua left for ann's order o1 (one p1 at 100 fen).
	noErr(t, rdb.HSet(ctx, k+":orders", "o1", `{"id":"o1","user":"ann","amount_fen":100,"items":[{"product_id":"p1","qty":1,"price_fen":100}]}`).Err())
	noErr(t, rdb.SAdd(ctx, k+":buyers", "ann").Err())
	noErr(t, rdb.HSet(ctx, k, "orders", 1, "gmv", 100, "p:p1:orders", 1, "p:p1:units", 1, "p:p1:gmv", 100).Err())

	check := func(what string, orders, buyers, gmv, units int64) {
		t.Helper()
		sa, err := s.Sales(ctx, "s1")
		if err != nil {
			t.Fatalf("%s: sales: %v", what, err)
		}
		p := productSalesOf(sa, "p1")
		if sa.Orders != orders || sa.Buyers != buyers || sa.GMVFen != gmv || p.Units != units || p.GMVFen < 0 || p.Orders < 0 {
			t.Fatalf("%s: %+v (p1 %+v), want %d orders, %d buyers, %d fen, %d units", what, sa, p, orders, buyers, gmv, units)
		}
	}
	check("as left", 1, 1, 100, 1)
	counted, err := s.RecordSale(ctx, "s1", SaleOrder{ID: "o2", User: "bob", AmountFen: 300, Items: []SaleItem{{"p1", 3, 100}}})
	if err != nil || !counted {
		t.Fatalf("new order on a legacy stream: counted %v, %v", counted, err)
	}
	check("with bob's order", 2, 2, 400, 4)
	_, err = s.RecordSale(ctx, "s1", SaleOrder{ID: "o3", User: "ann", AmountFen: 50})
	noErr(t, err)
	check("with ann's second order", 3, 2, 450, 4)
	applied, err := s.RefundSale(ctx, "s1", SaleRefund{OrderID: "o2", ID: wholeRefundID, AmountFen: 300, Full: true})
	if err != nil || !applied {
		t.Fatalf("refund of the new order: %v, %v", applied, err)
	}
	check("bob's order refunded", 2, 1, 150, 1)
	_, err = s.RefundSale(ctx, "s1", SaleRefund{OrderID: "o1", ID: wholeRefundID, AmountFen: 100, Full: true})
	noErr(t, err)
	check("ann's legacy order refunded", 1, 1, 50, 0) // ann still has o3
	_, err = s.RefundSale(ctx, "s1", SaleRefund{OrderID: "o3", ID: wholeRefundID, AmountFen: 50, Full: true})
	noErr(t, err)
	check("every order refunded", 0, 0, 0, 0)
}
