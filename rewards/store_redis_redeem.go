package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/redis/go-redis/v9"
)

// The points store's side of the Redis ledger: redemptions, holds of limited stock, gift claims, units left.

// Redeem implements Store. A limited reward's unit is held first ({r:<id>}: reserve.lua), then one script on
// the user's shard debits the points; the hold is then kept (the unit is sold) or released (the redemption was
// refused). A gift's claim index is written before the debit (Fulfil checks that the redemption it finds
// has that claim), and dropped again if the redemption is refused (dropGiftIndex). A crash between the hold
// and its end leaves the hold in {held}held, where Sweep resolves it (resolveHolds): stock is never oversold,
// and a unit held by a lost call comes back.
func (s *RedisStore) Redeem(ctx context.Context, req RedeemRequest, r Reward, p Policy) (Redemption, error) {
	user := req.User
	hold := user + "\x00" + req.RequestID
	held := false
	heldAt := p.Now.UnixMilli() // the score of the hold in the index of holds
	if r.Stock > 0 {
		member := mustJSON(map[string]string{"r": r.ID, "u": user, "q": req.RequestID})
		if err := s.runStep(ctx, scriptIndex, []string{s.heldKey()}, "zadd", heldAt, member).Err(); err != nil {
			return Redemption{}, fmt.Errorf("redis index a hold: %w", err)
		}
		st, err := s.hold(ctx, r, hold, p)
		if err != nil {
			return Redemption{}, err
		}
		if st == "out_of_stock" {
			return s.outOfStock(ctx, req, r)
		}
		held = true
	}
	if req.ClaimID != "" {
		if err := s.indexGift(ctx, user, req.RequestID, req.ClaimID); err != nil {
			return Redemption{}, err
		}
	}
	keys := append(s.userKeys(user), s.ukey(user, "redeem"), s.ukey(user, "rcount"))
	arg := mustJSON(map[string]any{"user": user, "reward": r.ID, "req": req.RequestID, "cost": r.Cost,
		"limit": r.PerUserLimit, "kind": r.Kind, "dfen": r.DiscountFen, "mfen": r.MinSpendFen, "code": req.Code, "claim": req.ClaimID, "held": held})
	reply, err := redisack.Run(ctx, s.rdb, s.wait, scriptRedeem, s.tail(keys, user), encodePolicy(p), arg, user).Slice()
	if err != nil {
		return Redemption{}, fmt.Errorf("redis redeem script: %w", err)
	}
	status, payload, err := statusReply(reply)
	if err != nil {
		return Redemption{}, err
	}
	if held {
		// The unit stays sold when the redemption was made now, or by another call under the hold (a replay
		// of a redemption made under a hold). A replay of one made before holds existed (its unit counted
		// already), or a refusal, gives the unit back once no other call shares the hold (release.lua).
		how := holdRelease
		switch {
		case status == "ok":
			how = holdKeep
		case status == "replay" && madeUnderHold(payload):
			how = holdKept
		}
		if err := s.endHold(ctx, r.ID, hold, how, heldAt); err != nil {
			return Redemption{}, err
		}
	}
	if req.ClaimID != "" {
		switch status {
		case "ok": // written again: a call refused under the same request id may have dropped it meanwhile
			err = s.indexGift(ctx, user, req.RequestID, req.ClaimID)
		case "duplicate", "limit", "insufficient":
			err = s.dropGiftIndex(ctx, user, req.RequestID, req.ClaimID)
		}
		if err != nil {
			return Redemption{}, err
		}
	}
	switch status {
	case "duplicate":
		return Redemption{}, ErrDuplicate
	case "limit":
		return Redemption{}, ErrLimitReached
	case "insufficient":
		return Redemption{}, ErrInsufficientPoints
	}
	red, err := decodeRedemption(payload)
	red.Replayed = status == "replay"
	return red, err
}

// indexGift writes a gift's claim index: claim id → the user and request id of its redemption.
func (s *RedisStore) indexGift(ctx context.Context, user, req, claimID string) error {
	err := s.runStep(ctx, scriptIndex, []string{s.giftKey(claimID)}, "set", mustJSON(map[string]string{"user": user, "req": req})).Err()
	if err != nil {
		return fmt.Errorf("redis index a gift claim: %w", err)
	}
	return nil
}

// dropGiftIndex drops the claim index written for a redemption that was refused, so that refused attempts
// leave no key. A concurrent call with the same request id may have made the redemption (its script ran
// after this call's): the index is then written back, here if the redemption is there already, else by that
// call, which writes it again after its script.
func (s *RedisStore) dropGiftIndex(ctx context.Context, user, req, claimID string) error {
	if err := s.rdb.Del(ctx, s.giftKey(claimID)).Err(); err != nil {
		return fmt.Errorf("redis drop a gift claim index: %w", err)
	}
	red, found, err := s.redemption(ctx, user, req)
	if err != nil || !found || red.ClaimID != claimID {
		return err
	}
	return s.indexGift(ctx, user, req, claimID)
}

// holdAttempts bounds how often a redemption asks for a unit while every unit is sold or held by
// redemptions in progress (one may be refused and release its unit); holdBackoff is the first pause between
// two asks, growing by itself each time (about 2 s in all).
const (
	holdAttempts = 40
	holdBackoff  = 2 * time.Millisecond
)

// hold holds a unit of r for the hold (reserve.lua): "ok", "held" (a retry's) or "out_of_stock". While the
// units are all sold or held and some holds are in progress it asks again, so that a redemption is refused
// for stock only when every unit is sold, as if the redemptions had run one after another.
func (s *RedisStore) hold(ctx context.Context, r Reward, hold string, p Policy) (string, error) {
	keys := []string{s.soldKey(r.ID), s.resvKey(r.ID), s.legacyStockKey(r.ID), s.busyKey(r.ID)}
	for i := range holdAttempts {
		st, err := s.runStep(ctx, scriptReserve, keys, hold, r.Stock, p.Now.UnixMilli()).Text()
		if err != nil {
			return "", fmt.Errorf("redis hold a unit: %w", err)
		}
		if st != "busy" {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Duration(i+1) * holdBackoff):
		}
	}
	return "out_of_stock", nil
}

// outOfStock answers a redemption that found no unit to hold as the user's script would, which judges a
// replay, then the per-user limit, before stock: the redemption replayed (one made before holds existed:
// later ones find their own hold), ErrDuplicate for a request id used for another reward, ErrLimitReached,
// else ErrOutOfStock.
func (s *RedisStore) outOfStock(ctx context.Context, req RedeemRequest, r Reward) (Redemption, error) {
	red, found, err := s.redemption(ctx, req.User, req.RequestID)
	switch {
	case err != nil:
		return Redemption{}, err
	case found && red.RewardID != r.ID:
		return Redemption{}, ErrDuplicate
	case found:
		red.Replayed = true
		return red, nil
	}
	if r.PerUserLimit > 0 {
		n, err := s.rdb.HGet(ctx, s.ukey(req.User, "rcount"), r.ID).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Redemption{}, fmt.Errorf("redis read units redeemed: %w", err)
		}
		if n >= r.PerUserLimit {
			return Redemption{}, ErrLimitReached
		}
	}
	return Redemption{}, ErrOutOfStock
}

// How endHold ends a hold (release.lua).
const (
	holdKeep    = "keep"    // the call that holds it made the redemption: its unit stays sold
	holdKept    = "kept"    // the redemption was made under the hold by another call: it stays sold if held
	holdRelease = "release" // the call was refused: the unit is free again once no other call shares the hold
	holdExpire  = "expire"  // the sweep found no redemption of a hold older than any call: the unit is free again
)

// madeUnderHold reports whether a redemption as the scripts store it was made with a unit held for it.
func madeUnderHold(payload string) bool {
	var w struct {
		Held bool `json:"held"`
	}
	return json.Unmarshal([]byte(payload), &w) == nil && w.Held
}

// endHold ends a hold as how says (release.lua), then, if no call holds it any more, drops its entry from the
// index of holds, unless a later call under the same request id gave the entry another score than at.
func (s *RedisStore) endHold(ctx context.Context, reward, hold, how string, at int64) error {
	free, err := scriptRelease.Run(ctx, s.rdb, []string{s.soldKey(reward), s.resvKey(reward), s.busyKey(reward)}, hold, how).Int()
	if err != nil {
		return fmt.Errorf("redis end a hold: %w", err)
	}
	if free == 0 {
		return nil
	}
	user, req, _ := strings.Cut(hold, "\x00")
	member := mustJSON(map[string]string{"r": reward, "u": user, "q": req})
	if err := s.runStep(ctx, scriptIndex, []string{s.heldKey()}, "zrem", at, member).Err(); err != nil {
		return fmt.Errorf("redis drop a hold from its index: %w", err)
	}
	return nil
}

// redemption reads the user's redemption of request id req.
func (s *RedisStore) redemption(ctx context.Context, user, req string) (Redemption, bool, error) {
	raw, err := s.rdb.HGet(ctx, s.ukey(user, "redeem"), req).Result()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, false, nil
	}
	if err != nil {
		return Redemption{}, false, fmt.Errorf("redis read a redemption: %w", err)
	}
	red, err := decodeRedemption(raw)
	return red, err == nil, err
}

// decodeRedemption reads a redemption as the scripts store it.
func decodeRedemption(payload string) (Redemption, error) {
	var w struct {
		ID      string `json:"id"`
		User    string `json:"user"`
		Reward  string `json:"reward"`
		Cost    int64  `json:"cost"`
		At      int64  `json:"at"`
		Balance int64  `json:"balance"`
		Kind    string `json:"kind"`
		DFen    int64  `json:"dfen"`
		MFen    int64  `json:"mfen"`
		Code    string `json:"code"`
		Claim   string `json:"claim"`
		Ful     int64  `json:"ful"`
	}
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return Redemption{}, fmt.Errorf("decode redemption: %w", err)
	}
	red := Redemption{ID: w.ID, User: w.User, RewardID: w.Reward, Cost: w.Cost, At: time.UnixMilli(w.At).UTC(),
		Balance: w.Balance, Kind: w.Kind, DiscountFen: w.DFen, MinSpendFen: w.MFen, Code: w.Code, ClaimID: w.Claim}
	if w.Ful > 0 {
		at := time.UnixMilli(w.Ful).UTC()
		red.FulfilledAt = &at
	}
	return red, nil
}

// Fulfil implements Store: the claim's redemption is found by one GET of its index, then marked by one script
// if it has that claim.
func (s *RedisStore) Fulfil(ctx context.Context, claimID string, p Policy) (Redemption, error) {
	raw, err := s.rdb.Get(ctx, s.giftKey(claimID)).Result()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, ErrNotFound
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("redis read claim: %w", err)
	}
	var c struct {
		User string `json:"user"`
		Req  string `json:"req"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Redemption{}, fmt.Errorf("decode claim: %w", err)
	}
	rec, err := redisack.Run(ctx, s.rdb, s.wait, scriptFulfil, []string{s.ukey(c.User, "redeem")}, c.Req, p.Now.UnixMilli(), claimID).Text()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, ErrNotFound
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("redis fulfil script: %w", err)
	}
	return decodeRedemption(rec)
}

// Remaining implements Store with one pipeline of GETs (the units sold of each reward, and the legacy
// counters): the keys lie in several slots, which a cluster pipeline sends to their nodes.
func (s *RedisStore) Remaining(ctx context.Context, rs []Reward) (map[string]int64, error) {
	var limited []Reward
	pipe := s.rdb.Pipeline()
	var sold, legacy []*redis.StringCmd
	for _, r := range rs {
		if r.Stock > 0 {
			limited = append(limited, r)
			sold = append(sold, pipe.Get(ctx, s.soldKey(r.ID)))
			legacy = append(legacy, pipe.Get(ctx, s.legacyStockKey(r.ID)))
		}
	}
	out := map[string]int64{}
	if len(limited) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read reward stock: %w", err)
	}
	for i, r := range limited {
		out[r.ID] = r.Stock
		if n, err := sold[i].Int64(); err == nil {
			out[r.ID] = max(0, r.Stock-n)
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reward %s sold: %w", r.ID, err)
		} else if n, err := legacy[i].Int64(); err == nil { // a store from before sold
			out[r.ID] = max(0, min(n, r.Stock))
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reward %s stock: %w", r.ID, err)
		}
	}
	return out, nil
}

// Redemptions implements Store: one HVALS of the user's redemptions.
func (s *RedisStore) Redemptions(ctx context.Context, user string) ([]Redemption, error) {
	raw, err := s.rdb.HVals(ctx, s.ukey(user, "redeem")).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read redemptions: %w", err)
	}
	out := make([]Redemption, 0, len(raw))
	for _, r := range raw {
		red, err := decodeRedemption(r)
		if err != nil {
			return nil, err
		}
		out = append(out, red)
	}
	sortRedemptions(out)
	return out, nil
}
