package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Coupons.

func (s *RedisStore) couponKey(stream, id string) string { return s.itemKey(stream, "coupon", id) }

// decodeCoupon builds a Coupon from its JSON and remaining stock.
func decodeCoupon(id, raw, remaining string) (Coupon, error) {
	var c Coupon
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Coupon{}, fmt.Errorf("decode coupon %s: %w", id, err)
	}
	n, err := strconv.ParseInt(remaining, 10, 64)
	if err != nil {
		return Coupon{}, fmt.Errorf("decode coupon %s stock: %w", id, err)
	}
	c.Remaining = n
	return c, nil
}

// CreateCoupon implements CouponStore with one script.
func (s *RedisStore) CreateCoupon(ctx context.Context, stream string, c Coupon) error {
	if !validItemID(c.ID) {
		return fmt.Errorf("coupon id %q cannot be stored: %w", c.ID, ErrInvalid)
	}
	c.Remaining = c.Stock
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode coupon %s: %w", c.ID, err)
	}
	fields := []any{"json", b, "opens", c.OpensAt.UnixMicro(), "expires", c.ExpiresAt.UnixMicro(), "remaining", c.Stock}
	return s.createItem(ctx, "coupon", stream, c.ID, s.couponKey(stream, c.ID), s.streamSubKey(stream, "coupons"), "push", fields)
}

// Coupon implements CouponStore.
func (s *RedisStore) Coupon(ctx context.Context, stream, id string) (Coupon, error) {
	if !validItemID(id) {
		return Coupon{}, ErrNotFound
	}
	v, err := s.rdb.HMGet(ctx, s.couponKey(stream, id), "json", "remaining").Result()
	if err != nil {
		return Coupon{}, unavailable("get coupon "+id+" of "+stream, err)
	}
	h := replyStrings(v)
	if h[0] == "" {
		return Coupon{}, ErrNotFound
	}
	return decodeCoupon(id, h[0], h[1])
}

// Coupons implements CouponStore. A coupon whose keys expired before the list's is left out.
func (s *RedisStore) Coupons(ctx context.Context, stream string) ([]Coupon, error) {
	ids, err := s.rdb.LRange(ctx, s.streamSubKey(stream, "coupons"), 0, -1).Result()
	if err != nil {
		return nil, unavailable("list coupons of "+stream, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.couponKey(stream, id), "json", "remaining")
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("get coupons of "+stream, err)
	}
	cs := make([]Coupon, 0, len(ids))
	for i, cmd := range cmds {
		h := replyStrings(cmd.Val())
		if h[0] == "" {
			continue
		}
		c, err := decodeCoupon(ids[i], h[0], h[1])
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// claimCouponScript gives one unit to a user once. KEYS: coupon hash, claims. ARGV: user, code, now µs,
// ttl ms. Returns the outcome, and on 'ok' the coupon's JSON and remaining stock.
var claimCouponScript = luaScript("coupon_claim.lua")

// ClaimCoupon implements CouponStore with one script, so the stock never oversells.
func (s *RedisStore) ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, error) {
	if !validItemID(id) {
		return Coupon{}, ErrNotFound
	}
	key := s.couponKey(stream, id)
	res, data, err := s.runScript(ctx, "claim coupon "+id+" of "+stream, claimCouponScript,
		[]string{key, key + ":claims"}, user, code, now.UnixMicro(), ttlMS(s.ttl))
	if err != nil {
		return Coupon{}, err
	}
	switch res {
	case "ok":
		return decodeCoupon(id, data[0], data[1])
	case "not_found":
		return Coupon{}, ErrNotFound
	case "duplicate":
		return Coupon{}, ErrDuplicate
	case "not_yet":
		return Coupon{}, ErrNotOpenYet
	case "expired":
		return Coupon{}, ErrTimeUp
	case "no_stock":
		return Coupon{}, ErrSoldOut
	}
	return Coupon{}, fmt.Errorf("claim coupon %s: unexpected script outcome %q", id, res)
}

// CouponCode implements CouponStore.
func (s *RedisStore) CouponCode(ctx context.Context, stream, id, user string) (string, error) {
	if !validItemID(id) {
		return "", nil
	}
	code, err := s.rdb.HGet(ctx, s.couponKey(stream, id)+":claims", user).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", unavailable("read coupon code of "+id, err)
	}
	return code, nil
}
