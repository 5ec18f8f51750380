package rewards

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	scriptTouch = luaScript("touch.lua")
	scriptAck   = redis.NewScript(mustLua("lua/ack.lua")) // no prelude: it reads no account
)

// tail appends the keys every script with the prelude takes last (prelude.lua): the user's outbox and
// unannounced lots, the due indexes and the set of users with an outbox.
func (s *RedisStore) tail(keys []string, user string) []string {
	return append(keys, s.prefix+"out:"+user, s.prefix+"unwarned:"+user, s.prefix+"due:settle", s.prefix+"due:expire",
		s.prefix+"due:warn", s.prefix+"due:roll", s.prefix+"outbox")
}

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
	raw, err := s.rdb.LRange(ctx, s.prefix+"out:"+user, 0, -1).Result()
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
	err := scriptAck.Run(ctx, s.rdb, []string{s.prefix + "out:" + user, s.prefix + "outbox"}, seq, user).Err()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("redis acknowledge facts: %w", err)
	}
	return nil
}

// Sweep implements Store: the users the due indexes name (a pending order past its window, a lot expired or
// within the notice, a month left the window), at most limit, each brought up to date by one script; then up
// to limit users of the outbox set, oldest first.
func (s *RedisStore) Sweep(ctx context.Context, p Policy, limit int) (SweepResult, error) {
	warnBefore, _ := p.warnHorizon()
	firstMonth, err := strconv.Atoi(strings.ReplaceAll(p.FirstMonth, "-", ""))
	if err != nil {
		return SweepResult{}, fmt.Errorf("sweep: first month %q: %w", p.FirstMonth, err)
	}
	due := []struct {
		key string
		max string
	}{
		{"due:settle", strconv.FormatInt(p.SettleBefore.UnixMilli(), 10)},
		{"due:expire", strconv.FormatInt(p.ExpireBefore.UnixMilli(), 10)},
		{"due:warn", strconv.FormatInt(warnBefore.UnixMilli(), 10)},
		{"due:roll", "(" + strconv.Itoa(firstMonth)},
	}
	users, err := s.backfill(ctx, limit)
	if err != nil {
		return SweepResult{}, err
	}
	seen := map[string]bool{}
	for _, u := range users {
		seen[u] = true
	}
	for _, d := range due {
		if len(users) >= limit {
			break
		}
		got, err := s.rdb.ZRangeByScore(ctx, s.prefix+d.key, &redis.ZRangeBy{Min: "-inf", Max: d.max, Count: int64(limit)}).Result()
		if err != nil {
			return SweepResult{}, fmt.Errorf("redis read %s: %w", d.key, err)
		}
		for _, u := range got {
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
	out, err := s.rdb.ZRange(ctx, s.prefix+"outbox", 0, int64(limit-1)).Result()
	if err != nil {
		return SweepResult{}, fmt.Errorf("redis read outbox: %w", err)
	}
	return SweepResult{Visited: len(users), Users: out}, nil
}

// backfill returns up to limit users of accounts written before the due indexes existed, so that the sweep
// indexes them too: one pass of SCAN over acct:* (a batch per sweep, queued in due:backlog) until due:scanned
// marks it done. Touching an account that is already indexed only rewrites its entries.
func (s *RedisStore) backfill(ctx context.Context, limit int) ([]string, error) {
	backlog, scanned := s.prefix+"due:backlog", s.prefix+"due:scanned"
	n, err := s.rdb.LLen(ctx, backlog).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read sweep backlog: %w", err)
	}
	if n < int64(limit) {
		done, err := s.rdb.Exists(ctx, scanned).Result()
		if err != nil {
			return nil, fmt.Errorf("redis read sweep backlog: %w", err)
		}
		if done == 0 {
			cursor, err := s.rdb.Get(ctx, s.prefix+"due:scan").Uint64()
			if err != nil && err != redis.Nil {
				return nil, fmt.Errorf("redis read sweep cursor: %w", err)
			}
			keys, next, err := s.rdb.Scan(ctx, cursor, s.prefix+"acct:*", int64(limit)).Result()
			if err != nil {
				return nil, fmt.Errorf("redis scan accounts: %w", err)
			}
			pipe := s.rdb.TxPipeline()
			for _, k := range keys {
				pipe.RPush(ctx, backlog, strings.TrimPrefix(k, s.prefix+"acct:"))
			}
			if next == 0 {
				pipe.Set(ctx, scanned, "1", 0)
				pipe.Del(ctx, s.prefix+"due:scan")
			} else {
				pipe.Set(ctx, s.prefix+"due:scan", next, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("redis queue sweep backlog: %w", err)
			}
		}
	}
	users, err := s.rdb.LPopCount(ctx, backlog, limit).Result()
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redis pop sweep backlog: %w", err)
	}
	return users, nil
}
