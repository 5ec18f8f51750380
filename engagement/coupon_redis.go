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

// createCouponScript stores a new coupon, appends it to the stream's list and, with shop codes, fills its
// pool. KEYS: coupon hash, the stream's coupon list, pool. ARGV: id, ttl ms, json, opens µs, expires µs,
// stock, then the shop's codes in order. Returns 0 if the coupon exists.
var createCouponScript = luaScript("coupon_create.lua")

// CreateCoupon implements CouponStore with one script.
func (s *RedisStore) CreateCoupon(ctx context.Context, stream string, c Coupon, codes ...string) error {
	if !validItemID(c.ID) {
		return fmt.Errorf("coupon id %q cannot be stored: %w", c.ID, ErrInvalid)
	}
	c.Remaining = c.Stock
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode coupon %s: %w", c.ID, err)
	}
	key := s.couponKey(stream, c.ID)
	args := make([]any, 0, 6+len(codes))
	args = append(args, c.ID, ttlMS(s.ttl), b, c.OpensAt.UnixMicro(), c.ExpiresAt.UnixMicro(), c.Stock)
	for _, code := range codes {
		args = append(args, code)
	}
	n, err := createCouponScript.Run(ctx, s.rdb, []string{key, s.streamSubKey(stream, "coupons"), key + ":pool"}, args...).Int()
	if err != nil {
		return unavailable("create coupon "+c.ID+" on "+stream, err)
	}
	if n != 1 {
		return ErrDuplicate
	}
	return nil
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

// claimCouponScript gives one unit to a user once: code, or the next of the pool if the coupon has shop
// codes. KEYS: coupon hash, claims, pool. ARGV: user, code, now µs, ttl ms. Returns the outcome; on 'ok' the
// coupon's JSON, remaining stock and the code given; on 'duplicate' the code claimed before and the JSON.
var claimCouponScript = luaScript("coupon_claim.lua")

// ClaimCoupon implements CouponStore with one script, so the stock never oversells and no shop code goes to
// two users; the code is then indexed (a key of its own, in another cluster slot, so a second step). A claim
// whose indexing failed is indexed by the user's retry, which finds the claim a duplicate.
func (s *RedisStore) ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, string, error) {
	if !validItemID(id) {
		return Coupon{}, "", ErrNotFound
	}
	key := s.couponKey(stream, id)
	res, data, err := s.runScriptWait(ctx, "claim coupon "+id+" of "+stream, s.wait, claimCouponScript,
		[]string{key, key + ":claims", key + ":pool"}, user, code, now.UnixMicro(), ttlMS(s.ttl))
	if err != nil {
		return Coupon{}, "", err
	}
	switch res {
	case "ok":
		c, err := decodeCoupon(id, data[0], data[1])
		if err != nil {
			return Coupon{}, "", err
		}
		if err := s.indexCouponCode(ctx, data[2], claimedCode(stream, user, c)); err != nil {
			return Coupon{}, "", err
		}
		if err := s.addUserCoupon(ctx, user, userCoupon(stream, c, data[2], now)); err != nil {
			return Coupon{}, "", err
		}
		return c, data[2], nil
	case "not_found":
		return Coupon{}, "", ErrNotFound
	case "duplicate":
		if c, err := decodeCoupon(id, data[1], "0"); err == nil {
			if err := s.indexCouponCode(ctx, data[0], claimedCode(stream, user, c)); err != nil {
				return Coupon{}, "", err
			}
			if err := s.addUserCoupon(ctx, user, userCoupon(stream, c, data[0], now)); err != nil {
				return Coupon{}, "", err
			}
		}
		return Coupon{}, "", ErrDuplicate
	case "not_yet":
		return Coupon{}, "", ErrNotOpenYet
	case "expired":
		return Coupon{}, "", ErrTimeUp
	case "no_stock":
		return Coupon{}, "", ErrSoldOut
	}
	return Coupon{}, "", fmt.Errorf("claim coupon %s: unexpected script outcome %q", id, res)
}

// couponCodeIndexKey is the codes index's key of code: its HMAC (couponCodeKey), never the code.
func (s *RedisStore) couponCodeIndexKey(code string) string {
	return s.prefix + "coupon-code:{" + couponCodeKey(s.codeKey, code) + "}"
}

// indexCouponScript adds a claimed code's record unless its key exists. KEYS: the code's index key. ARGV:
// the record's JSON, expires µs, ttl ms.
var indexCouponScript = luaScript("coupon_code_index.lua")

func (s *RedisStore) indexCouponCode(ctx context.Context, code string, r ClaimedCode) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode coupon code record: %w", err)
	}
	err = indexCouponScript.Run(ctx, s.rdb, []string{s.couponCodeIndexKey(code)}, b, r.ExpiresAt.UnixMicro(), ttlMS(s.ttl)).Err()
	if err != nil {
		return unavailable("index a code of coupon "+r.CouponID, err)
	}
	return nil
}

// IndexCouponCode implements CouponStore: the record lives StreamTTL past its expiry.
func (s *RedisStore) IndexCouponCode(ctx context.Context, code string, r ClaimedCode) error {
	r.Code = ""
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode coupon code record: %w", err)
	}
	ttl := max(time.Until(r.ExpiresAt), 0) + s.ttl
	err = indexCouponScript.Run(ctx, s.rdb, []string{s.couponCodeIndexKey(code)}, b, r.ExpiresAt.UnixMicro(), ttlMS(ttl)).Err()
	if err != nil {
		return unavailable("index a code of reward "+r.CouponID, err)
	}
	return nil
}

// decodeClaimedCode builds a record from its JSON and, if redeemed, the order and when (µs).
func decodeClaimedCode(raw, order, redeemed string) (ClaimedCode, error) {
	var r ClaimedCode
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return ClaimedCode{}, fmt.Errorf("decode coupon code record: %w", err)
	}
	r.Status = CodeStatusClaimed
	if order != "" {
		us, err := strconv.ParseInt(redeemed, 10, 64)
		if err != nil {
			return ClaimedCode{}, fmt.Errorf("decode coupon code redemption: %w", err)
		}
		at := time.UnixMicro(us).UTC()
		r.OrderID, r.RedeemedAt, r.Status = order, &at, CodeStatusRedeemed
	}
	return r, nil
}

// CouponByCode implements CouponStore: one HMGET, found or not.
func (s *RedisStore) CouponByCode(ctx context.Context, code string) (ClaimedCode, error) {
	v, err := s.rdb.HMGet(ctx, s.couponCodeIndexKey(code), "json", "order", "redeemed").Result()
	if err != nil {
		return ClaimedCode{}, unavailable("look up a coupon code", err)
	}
	h := replyStrings(v)
	if h[0] == "" {
		return ClaimedCode{}, ErrNotFound
	}
	return decodeClaimedCode(h[0], h[1], h[2])
}

// redeemCouponScript redeems a claimed code once. KEYS: the code's index key. ARGV: order, now µs, ttl ms.
// Returns the outcome; on 'ok' (a first redemption or a replay by the same order) the record's JSON, the order
// and when it was redeemed (µs).
var redeemCouponScript = luaScript("coupon_code_redeem.lua")

// RedeemCouponCode implements CouponStore with one script.
func (s *RedisStore) RedeemCouponCode(ctx context.Context, code, order string, now time.Time) (ClaimedCode, error) {
	res, data, err := s.runScript(ctx, "redeem a coupon code", redeemCouponScript,
		[]string{s.couponCodeIndexKey(code)}, order, now.UnixMicro(), ttlMS(s.ttl))
	if err != nil {
		return ClaimedCode{}, err
	}
	switch res {
	case "ok":
		r, err := decodeClaimedCode(data[0], data[1], data[2])
		if err == nil && r.StreamID != "" {
			err = s.renewUserCoupons(ctx, r.UserID) // the list lives as long as the record it shows
		}
		return r, err
	case "not_found":
		return ClaimedCode{}, ErrNotFound
	case "conflict":
		return ClaimedCode{}, ErrConflict
	case "expired":
		return ClaimedCode{}, ErrExpired
	}
	return ClaimedCode{}, fmt.Errorf("redeem a coupon code: unexpected script outcome %q", res)
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

// userCouponsKey is the list of the codes user claimed of coupon drops (UserCoupons).
func (s *RedisStore) userCouponsKey(user string) string {
	return s.prefix + "user:{" + user + "}:coupons"
}

// addUserCouponScript adds a claimed code to a user's list unless it is there (ZADD NX: a retry keeps the
// first claim's time), keeps the newest entries and renews the list. KEYS: the list. ARGV: the entry's JSON,
// its claim time (µs), ttl ms, how many entries to keep.
var addUserCouponScript = luaScript("coupon_user_add.lua")

// addUserCoupon adds a claimed code to the user's list: a key of the user's (another cluster slot than the
// stream's and the code's), so a step of its own after the claim and the index write, healed as the index is
// by the user's retry (which the claim script answers duplicate).
func (s *RedisStore) addUserCoupon(ctx context.Context, user string, e UserCoupon) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode a user's coupon: %w", err)
	}
	err = addUserCouponScript.Run(ctx, s.rdb, []string{s.userCouponsKey(user)}, b, e.ClaimedAt.UnixMicro(), ttlMS(s.ttl), MaxUserCoupons).Err()
	if err != nil {
		return unavailable("list a code of coupon "+e.CouponID+" for its user", err)
	}
	return nil
}

// renewUserCoupons renews user's list StreamTTL from now (a redemption renews the code's record so).
func (s *RedisStore) renewUserCoupons(ctx context.Context, user string) error {
	if err := s.rdb.PExpire(ctx, s.userCouponsKey(user), s.ttl).Err(); err != nil {
		return unavailable("renew the coupons of a user", err)
	}
	return nil
}

// UserCoupons implements CouponStore: one ZREVRANGE, then one pipeline of the codes' index records.
func (s *RedisStore) UserCoupons(ctx context.Context, user string, n int) ([]UserCoupon, error) {
	if n <= 0 {
		return nil, nil
	}
	zs, err := s.rdb.ZRevRangeWithScores(ctx, s.userCouponsKey(user), 0, int64(n-1)).Result()
	if err != nil {
		return nil, unavailable("list the coupons of a user", err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	es := make([]UserCoupon, len(zs))
	for i, z := range zs {
		member, _ := z.Member.(string)
		if err := json.Unmarshal([]byte(member), &es[i]); err != nil {
			return nil, fmt.Errorf("decode a user's coupon: %w", err)
		}
		es[i].ClaimedAt = time.UnixMicro(int64(z.Score)).UTC() // µs since 1970 are exact in a double
	}
	cmds := make([]*redis.SliceCmd, len(es))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range es {
			cmds[i] = p.HMGet(ctx, s.couponCodeIndexKey(e.Code), "json", "order", "redeemed")
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("read the codes of a user's coupons", err)
	}
	out := make([]UserCoupon, 0, len(es))
	for i, cmd := range cmds {
		h := replyStrings(cmd.Val())
		if h[0] == "" {
			continue // the record is gone: so is the entry
		}
		rec, err := decodeClaimedCode(h[0], h[1], h[2])
		if err != nil {
			return nil, err
		}
		es[i].Record = rec
		out = append(out, es[i])
	}
	return out, nil
}
