package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Sales per show (key layout in redis.go).

// recordSaleScript counts an order once. KEYS: salesKeys. ARGV: id, json, user, amount, ttl ms,
// then product id, qty, gmv per item.
var recordSaleScript = luaScript("sales_buyers.lua", "sales_record.lua")

// refundSaleScript subtracts a refund of a counted order once. KEYS: salesKeys. ARGV: id, ttl ms, refund JSON.
var refundSaleScript = luaScript("sales_buyers.lua", "sales_refund.lua")

func (s *RedisStore) salesKey(stream string) string { return s.streamSubKey(stream, "sales") }

// salesKeys are a stream's sales keys: the counters, the orders, the buyers, the orders refunded whole, the
// viewers, and the buyers as a set of users (what the version before partial refunds wrote under :buyers, read
// into the hash by the next script, sales_buyers.lua; a new name for the hash so that neither version meets
// the other's type). Every write renews all of them, so that they expire together: the orders (the
// idempotency) never go before the counters they guard.
func (s *RedisStore) salesKeys(stream string) []string {
	k := s.salesKey(stream)
	return []string{k, k + ":orders", k + ":buyer-orders", k + ":refunded", k + ":viewers", k + ":buyers"}
}

// renewSales queues the renewal of every sales key of stream on p.
func (s *RedisStore) renewSales(ctx context.Context, p redis.Pipeliner, stream string) {
	for _, k := range s.salesKeys(stream) {
		p.PExpire(ctx, k, s.ttl)
	}
}

// RecordSale implements SalesStore with one script.
func (s *RedisStore) RecordSale(ctx context.Context, stream string, o SaleOrder) (bool, error) {
	for _, it := range o.Items {
		if !validProductID(it.ProductID) {
			return false, fmt.Errorf("product id %q cannot be stored: %w", it.ProductID, ErrInvalid)
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return false, fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	args := []any{o.ID, b, o.User, o.AmountFen, ttlMS(s.ttl)}
	for _, it := range o.Items {
		args = append(args, it.ProductID, it.Qty, it.Qty*it.PriceFen)
	}
	res, _, err := s.runScript(ctx, "record sale "+o.ID+" on "+stream, recordSaleScript, s.salesKeys(stream), args...)
	if err != nil {
		return false, err
	}
	return res == "ok", nil
}

// RefundSale implements SalesStore with one script.
func (s *RedisStore) RefundSale(ctx context.Context, stream string, r SaleRefund) (bool, error) {
	b, err := json.Marshal(map[string]any{"id": r.ID, "amount_fen": r.AmountFen, "items": r.Items, "full": r.Full})
	if err != nil {
		return false, fmt.Errorf("encode refund of %s: %w", r.OrderID, err)
	}
	res, _, err := s.runScript(ctx, "refund sale "+r.OrderID+" on "+stream, refundSaleScript, s.salesKeys(stream), r.OrderID, ttlMS(s.ttl), b)
	if err != nil {
		return false, err
	}
	return res == "ok", nil
}

// CountSaleClick implements SalesStore: HINCRBY, then the keys' TTL.
func (s *RedisStore) CountSaleClick(ctx context.Context, stream, productID string) error {
	if !validProductID(productID) {
		return fmt.Errorf("product id %q cannot be stored: %w", productID, ErrInvalid)
	}
	k := s.salesKey(stream)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, k, "p:"+productID+":clicks", 1)
		s.renewSales(ctx, p, stream)
		return nil
	})
	if err != nil {
		return unavailable("count click on "+productID+" of "+stream, err)
	}
	return nil
}

// CountSaleViewer implements SalesStore: PFADD to the stream's HyperLogLog.
func (s *RedisStore) CountSaleViewer(ctx context.Context, stream, user string) error {
	k := s.salesKey(stream) + ":viewers"
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.PFAdd(ctx, k, user)
		s.renewSales(ctx, p, stream)
		return nil
	})
	if err != nil {
		return unavailable("count viewer of "+stream, err)
	}
	return nil
}

// Sales implements SalesStore: one MULTI reading the counters, the buyers and the viewers (and, on a stream
// whose buyers the version before partial refunds wrote as a set no script has read yet, a second reading
// the set's users not in the hash).
func (s *RedisStore) Sales(ctx context.Context, stream string) (Sales, error) {
	keys := s.salesKeys(stream)
	k, buyersKey, legacyKey := keys[0], keys[2], keys[5]
	var all *redis.MapStringStringCmd
	var buyers, viewers *redis.IntCmd
	var legacy *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, k)
		buyers = p.HLen(ctx, buyersKey)
		viewers = p.PFCount(ctx, k+":viewers")
		legacy = p.SMembers(ctx, legacyKey)
		return nil
	})
	if err != nil {
		return Sales{}, unavailable("sales of "+stream, err)
	}
	sa := Sales{Stream: stream, Buyers: buyers.Val(), Viewers: viewers.Val(), Products: []ProductSales{}}
	if users := legacy.Val(); len(users) > 0 {
		in, err := s.rdb.HMGet(ctx, buyersKey, users...).Result()
		if err != nil {
			return Sales{}, unavailable("sales of "+stream, err)
		}
		for _, v := range in {
			if v == nil {
				sa.Buyers++
			}
		}
	}
	byID := map[string]*ProductSales{}
	var ids []string
	for f, v := range all.Val() {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch f {
		case "orders":
			sa.Orders = n
			continue
		case "gmv":
			sa.GMVFen = n
			continue
		}
		rest, ok := strings.CutPrefix(f, "p:")
		i := strings.LastIndexByte(rest, ':')
		if !ok || i < 0 {
			continue
		}
		id, what := rest[:i], rest[i+1:]
		p := byID[id]
		if p == nil {
			p = &ProductSales{ProductID: id}
			byID[id] = p
			ids = append(ids, id)
		}
		switch what {
		case "clicks":
			p.Clicks = n
		case "orders":
			p.Orders = n
		case "units":
			p.Units = n
		case "gmv":
			p.GMVFen = n
		}
	}
	for _, id := range ids {
		sa.Products = append(sa.Products, *byID[id])
	}
	return sa, nil
}
