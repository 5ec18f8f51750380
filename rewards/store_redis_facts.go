package rewards

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	scriptTouch = luaScript("touch.lua")
	scriptAck   = redis.NewScript(mustLua("lua/ack.lua")) // no prelude: it reads no account
)

// luaFact is a Fact as the scripts write it.
type luaFact struct {
	Seq    int64    `json:"seq"`
	Kind   FactKind `json:"k"`
	At     int64    `json:"at"`
	Key    string   `json:"key"`
	Stream string   `json:"s"`
	Points int64    `json:"p"`
	Bal    int64    `json:"b"`
	From   Tier     `json:"from"`
	To     Tier     `json:"to"`
	Why    string   `json:"why"`
	By     int64    `json:"by"`
}

// Facts implements Store.
func (s *RedisStore) Facts(ctx context.Context, user string) ([]Fact, error) {
	raw, err := s.rdb.LRange(ctx, s.ukey(user, "out"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read facts: %w", err)
	}
	out := make([]Fact, 0, len(raw))
	for _, r := range raw {
		var f luaFact
		if err := json.Unmarshal([]byte(r), &f); err != nil {
			return nil, fmt.Errorf("decode fact: %w", err)
		}
		fact := Fact{Seq: f.Seq, Kind: f.Kind, User: user, At: time.UnixMilli(f.At).UTC(), Key: f.Key, Stream: f.Stream,
			Points: f.Points, Balance: f.Bal, From: f.From, To: f.To, Reason: f.Why}
		if f.By > 0 {
			fact.ExpiresBy = time.UnixMilli(f.By).UTC()
		}
		out = append(out, fact)
	}
	return out, nil
}

// AckFacts implements Store.
func (s *RedisStore) AckFacts(ctx context.Context, user string, seq int64) error {
	err := scriptAck.Run(ctx, s.rdb, []string{s.ukey(user, "out"), s.skey(shardOf(user), "outbox")}, seq, user).Err()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("redis acknowledge facts: %w", err)
	}
	return nil
}

// Sweep implements Store: the users the shards' due indexes name (a pending order past its window, a lot
// expired or within the notice, a month left the window), at most limit, each brought up to date by one
// script; then up to limit users of the shards' outboxes, oldest first. The indexes of every shard are read
// in one pipeline (a cluster sends each read to its node). Holds of reward units whose redemption never came
// back are resolved too (resolveHolds).
func (s *RedisStore) Sweep(ctx context.Context, p Policy, limit int) (SweepResult, error) {
	warnBefore, _ := p.warnHorizon()
	firstMonth, err := strconv.Atoi(strings.ReplaceAll(p.FirstMonth, "-", ""))
	if err != nil {
		return SweepResult{}, fmt.Errorf("sweep: first month %q: %w", p.FirstMonth, err)
	}
	due := []struct {
		kind string
		max  string
	}{
		{"due:settle", strconv.FormatInt(p.SettleBefore.UnixMilli(), 10)},
		{"due:expire", strconv.FormatInt(p.ExpireBefore.UnixMilli(), 10)},
		{"due:warn", strconv.FormatInt(warnBefore.UnixMilli(), 10)},
		{"due:roll", "(" + strconv.Itoa(firstMonth)},
	}
	if err := s.resolveHolds(ctx, p, limit); err != nil {
		return SweepResult{}, err
	}
	pipe := s.rdb.Pipeline()
	reads := make([]*redis.StringSliceCmd, 0, len(due)*LedgerShards)
	for _, d := range due {
		for sh := range LedgerShards {
			reads = append(reads, pipe.ZRangeByScore(ctx, s.skey(sh, d.kind), &redis.ZRangeBy{Min: "-inf", Max: d.max, Count: int64(limit)}))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return SweepResult{}, fmt.Errorf("redis read the due indexes: %w", err)
	}
	var users []string
	seen := map[string]bool{}
	for _, r := range reads {
		for _, u := range r.Val() {
			if !seen[u] && len(users) < limit {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	policy := encodePolicy(p)
	for _, u := range users {
		if err := scriptTouch.Run(ctx, s.rdb, s.tail(s.userKeys(u), u), policy, u).Err(); err != nil {
			return SweepResult{}, fmt.Errorf("redis sweep script: %w", err)
		}
	}
	out, err := s.outboxUsers(ctx, limit)
	if err != nil {
		return SweepResult{}, err
	}
	return SweepResult{Visited: len(users), Users: out}, nil
}

// outboxUsers returns up to limit users with facts not yet acknowledged, oldest first, across the shards.
func (s *RedisStore) outboxUsers(ctx context.Context, limit int) ([]string, error) {
	pipe := s.rdb.Pipeline()
	reads := make([]*redis.ZSliceCmd, 0, LedgerShards)
	for sh := range LedgerShards {
		reads = append(reads, pipe.ZRangeWithScores(ctx, s.skey(sh, "outbox"), 0, int64(limit-1)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis read the outboxes: %w", err)
	}
	var all []redis.Z
	for _, r := range reads {
		all = append(all, r.Val()...)
	}
	slices.SortFunc(all, func(a, b redis.Z) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Member.(string), b.Member.(string))
	})
	out := make([]string, 0, min(limit, len(all)))
	for _, z := range all[:min(limit, len(all))] {
		out = append(out, z.Member.(string))
	}
	return out, nil
}

// holdTimeout is how old a hold of a reward unit must be before Sweep resolves it: far longer than any
// redemption call takes (they are bounded by request timeouts of seconds).
const holdTimeout = 10 * time.Minute

// resolveHolds ends up to limit holds older than holdTimeout whose call never ended them (it stopped between
// the hold and the debit, or before ending the hold): kept if the user's redemption is there, else released.
func (s *RedisStore) resolveHolds(ctx context.Context, p Policy, limit int) error {
	old := strconv.FormatInt(p.Now.Add(-holdTimeout).UnixMilli(), 10)
	members, err := s.rdb.ZRangeByScoreWithScores(ctx, s.heldKey(), &redis.ZRangeBy{Min: "-inf", Max: old, Count: int64(limit)}).Result()
	if err != nil {
		return fmt.Errorf("redis read the holds: %w", err)
	}
	for _, z := range members {
		m, _ := z.Member.(string)
		var h struct{ R, U, Q string }
		if err := json.Unmarshal([]byte(m), &h); err != nil {
			return fmt.Errorf("decode a hold: %w", err)
		}
		raw, err := s.rdb.HGet(ctx, s.ukey(h.U, "redeem"), h.Q).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redis read a redemption: %w", err)
		}
		how := holdExpire
		if red, derr := decodeRedemption(raw); err == nil && derr == nil && red.RewardID == h.R && madeUnderHold(raw) {
			how = holdKept
		}
		if err := s.endHold(ctx, h.R, h.U+"\x00"+h.Q, how, int64(z.Score)); err != nil {
			return err
		}
	}
	return nil
}
