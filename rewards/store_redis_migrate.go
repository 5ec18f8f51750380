package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLayoutOutdated reports a Redis ledger written by a version before the cluster-ready layout (layout 1:
// keys "acct:<user>", "award:<key>", …, one set of due indexes): the store refuses to run on it, since the
// new layout would not see a point of it, until `kudos ledger migrate` moved it (RedisStore.Migrate).
var ErrLayoutOutdated = errors.New("the ledger in Redis has the layout of an earlier version")

// layout1Singletons are keys every layout-1 ledger that ever recorded an award or a redemption holds.
var layout1Singletons = []string{"due:settle", "due:expire", "due:warn", "due:roll", "outbox", "due:scan", "due:scanned",
	"due:backlog", "sold"}

// layout1UserKinds are the layout-1 per-user keys ("<kind>:<user>") and their names in layout 2.
var layout1UserKinds = []string{"acct", "earned", "lots", "lotamt", "orders", "pend", "entries", "out", "unwarned", "rcount", "redeem"}

// CheckLayout is what a node checks before it serves on the store: the layout key says layout 2 (a store
// of an unknown layout is refused: written by a newer version); a store without it is given it unless it
// holds layout-1 keys, which is ErrLayoutOutdated.
func (s *RedisStore) CheckLayout(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, s.layoutKey()).Result()
	switch {
	case err == nil && v == ledgerLayout:
		return nil
	case err == nil:
		return fmt.Errorf("the ledger in Redis has layout %q, which this version does not know (it knows %q): a newer version wrote it", v, ledgerLayout)
	case !errors.Is(err, redis.Nil):
		return fmt.Errorf("redis read the ledger's layout: %w", err)
	}
	old, err := s.hasLayout1(ctx)
	if err != nil {
		return err
	}
	if old {
		return ErrLayoutOutdated
	}
	if err := s.rdb.SetNX(ctx, s.layoutKey(), ledgerLayout, 0).Err(); err != nil {
		return fmt.Errorf("redis record the ledger's layout: %w", err)
	}
	return nil
}

// hasLayout1 looks for a layout-1 key: the singletons first, then one pass of SCAN over the accounts (run
// once per deployment: the layout key is set after it).
func (s *RedisStore) hasLayout1(ctx context.Context) (bool, error) {
	pipe := s.rdb.Pipeline()
	var exists []*redis.IntCmd
	for _, k := range layout1Singletons {
		exists = append(exists, pipe.Exists(ctx, s.prefix+k))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("redis look for an earlier ledger layout: %w", err)
	}
	for _, e := range exists {
		if e.Val() > 0 {
			return true, nil
		}
	}
	found := false
	err := s.eachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		for _, kind := range []string{"acct", "award"} {
			keys, _, err := scanOne(ctx, c, s.prefix+kind+":*")
			if err != nil {
				return err
			}
			found = found || len(keys) > 0
		}
		return nil
	})
	return found, err
}

// scanOne runs SCAN over the whole keyspace of c until it finds a key matching pattern.
func scanOne(ctx context.Context, c redis.Cmdable, pattern string) ([]string, uint64, error) {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("redis scan %s: %w", pattern, err)
		}
		if len(keys) > 0 || next == 0 {
			return keys, next, nil
		}
		cursor = next
	}
}

// eachNode runs fn on every primary of a cluster, or on the one server.
func (s *RedisStore) eachNode(ctx context.Context, fn func(context.Context, redis.Cmdable) error) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, s.rdb)
}

// MigrateReport counts what Migrate moved.
type MigrateReport struct {
	Users, Records, Boards, Rewards, Gifts int
	Reindexed                              int // users whose due indexes and outbox were rebuilt
}

// Migrate moves a layout-1 ledger to layout 2 (store_redis_keys.go) and records the layout. Every node must
// be stopped while it runs (a node of the earlier version would write layout-1 keys; one of this version
// refuses to start until it is done). It is safe to run again, also after it stopped halfway: each key is
// moved once, by its old name. Each user is then brought up to date as the sweep would (p), which rebuilds
// the due indexes of the shards. A layout-1 ledger lived on one Redis (the earlier version refused a
// cluster), so Migrate refuses a cluster client.
func (s *RedisStore) Migrate(ctx context.Context, p Policy) (MigrateReport, error) {
	var rep MigrateReport
	if _, ok := s.rdb.(*redis.ClusterClient); ok {
		return rep, errors.New("migrate the ledger: a layout-1 ledger is on one Redis (the earlier version refused a cluster); point the migration at it")
	}
	if v, err := s.rdb.Get(ctx, s.layoutKey()).Result(); err == nil && v == ledgerLayout {
		if old, err := s.hasLayout1(ctx); err != nil || !old {
			return rep, err // done already
		}
	}
	outboxScores, err := s.rdb.ZRangeWithScores(ctx, s.prefix+"outbox", 0, -1).Result()
	if err != nil {
		return rep, fmt.Errorf("redis read the layout-1 outbox: %w", err)
	}
	firstFact := map[string]float64{}
	for _, z := range outboxScores {
		firstFact[z.Member.(string)] = z.Score
	}
	iter := s.rdb.Scan(ctx, 0, s.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := s.migrateKey(ctx, strings.TrimPrefix(iter.Val(), s.prefix), p, &rep); err != nil {
			return rep, err
		}
	}
	if err := iter.Err(); err != nil {
		return rep, fmt.Errorf("redis scan the ledger: %w", err)
	}
	if err := s.reindexAll(ctx, p, firstFact, &rep); err != nil {
		return rep, err
	}
	old := make([]string, 0, len(layout1Singletons))
	for _, k := range layout1Singletons {
		old = append(old, s.prefix+k)
	}
	if err := s.rdb.Del(ctx, old...).Err(); err != nil {
		return rep, fmt.Errorf("redis drop the layout-1 indexes: %w", err)
	}
	if err := s.rdb.Set(ctx, s.layoutKey(), ledgerLayout, 0).Err(); err != nil {
		return rep, fmt.Errorf("redis record the ledger's layout: %w", err)
	}
	return rep, nil
}

// migrateKey moves one layout-1 key (its name without the prefix); keys of layout 2 start with '{' and
// singletons are dropped at the end.
func (s *RedisStore) migrateKey(ctx context.Context, name string, p Policy, rep *MigrateReport) error {
	if name == "sold" {
		return s.migrateSold(ctx, rep)
	}
	kind, id, ok := strings.Cut(name, ":")
	if !ok || strings.HasPrefix(name, "{") {
		return nil
	}
	for _, k := range layout1UserKinds {
		if kind == k {
			if kind == "acct" {
				rep.Users++
			}
			return s.rename(ctx, name, s.ukey(id, kind))
		}
	}
	switch kind {
	case "award":
		rep.Records++
		return s.migrateRecord(ctx, id, p)
	case "board":
		rep.Boards++
		return s.migrateBoard(ctx, id, p)
	case "stock":
		return s.rename(ctx, name, s.legacyStockKey(id))
	case "claim":
		rep.Gifts++
		return s.rename(ctx, name, s.giftKey(id))
	}
	return nil
}

// migrateSold gives each reward of the layout-1 hash of units sold its own counter (the hash itself is
// dropped with the singletons at the end).
func (s *RedisStore) migrateSold(ctx context.Context, rep *MigrateReport) error {
	sold, err := s.rdb.HGetAll(ctx, s.prefix+"sold").Result()
	if err != nil {
		return fmt.Errorf("redis read the layout-1 units sold: %w", err)
	}
	for reward, n := range sold {
		rep.Rewards++
		if err := s.rdb.SetNX(ctx, s.soldKey(reward), n, 0).Err(); err != nil {
			return fmt.Errorf("redis move the units sold of %q: %w", reward, err)
		}
	}
	return nil
}

func (s *RedisStore) rename(ctx context.Context, from, to string) error {
	err := s.rdb.Rename(ctx, s.prefix+from, to).Err()
	if err != nil && !strings.Contains(err.Error(), "no such key") { // moved meanwhile (a second run)
		return fmt.Errorf("redis move %s: %w", from, err)
	}
	return nil
}

// migrateRecord moves an award record into its user's shard and claims its key for the user, both with the
// time the record had left.
func (s *RedisStore) migrateRecord(ctx context.Context, key string, p Policy) error {
	old := s.prefix + "award:" + key
	raw, err := s.rdb.Get(ctx, old).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis read the award record %s: %w", key, err)
	}
	ttl, err := s.rdb.PTTL(ctx, old).Result()
	if err != nil {
		return fmt.Errorf("redis read the award record %s: %w", key, err)
	}
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return fmt.Errorf("decode the award record %s: %w", key, err)
	}
	if ttl <= 0 { // a record without expiry (none is written so): kept as long as the longest
		ttl = time.Duration(p.ExpiryMonths) * 31 * 24 * time.Hour
	}
	exp := rec.Exp
	if exp == 0 {
		exp = p.Now.Add(ttl).UnixMilli()
	}
	claim := mustJSON(map[string]any{"u": rec.User, "exp": exp})
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, s.recordKey(rec.User, key), raw, ttl)
	pipe.Set(ctx, s.claimKey(key), claim, ttl)
	pipe.Del(ctx, old)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis move the award record %s: %w", key, err)
	}
	return nil
}

// migrateBoard moves a stream's leaderboard, and gives each user on it their points on the stream (bpts) at
// version 1, lasting as long as the board had left.
func (s *RedisStore) migrateBoard(ctx context.Context, stream string, p Policy) error {
	old := s.prefix + "board:" + stream
	members, err := s.rdb.ZRangeWithScores(ctx, old, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("redis read the leaderboard of %s: %w", stream, err)
	}
	ttl, err := s.rdb.PTTL(ctx, old).Result()
	if err != nil {
		return fmt.Errorf("redis read the leaderboard of %s: %w", stream, err)
	}
	if ttl <= 0 {
		ttl = time.Duration(p.ExpiryMonths) * 31 * 24 * time.Hour
	}
	exp := p.Now.Add(ttl).UnixMilli()
	pipe := s.rdb.TxPipeline()
	for _, z := range members {
		user := z.Member.(string)
		pipe.HSet(ctx, s.ukey(user, "bpts"), stream, mustJSON(map[string]int64{"t": int64(z.Score), "v": 1, "exp": exp}))
		pipe.HSet(ctx, s.boardVerKey(stream), user, 1)
		pipe.ZAdd(ctx, s.boardKey(stream), z)
	}
	pipe.Set(ctx, s.boardExpKey(stream), exp, ttl)
	pipe.PExpire(ctx, s.boardKey(stream), ttl)
	pipe.PExpire(ctx, s.boardVerKey(stream), ttl)
	pipe.Del(ctx, old)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis move the leaderboard of %s: %w", stream, err)
	}
	return nil
}

// reindexAll brings every account of layout 2 up to date (touch.lua: settle, expire, announce, re-tier and set
// the shard's due indexes) and puts the users with facts in their shard's outbox, at the time of their first
// fact in the layout-1 outbox if it was there.
func (s *RedisStore) reindexAll(ctx context.Context, p Policy, firstFact map[string]float64, rep *MigrateReport) error {
	policy := encodePolicy(p)
	iter := s.rdb.Scan(ctx, 0, s.prefix+"{u*}acct:*", 1000).Iterator()
	for iter.Next(ctx) {
		rest := strings.TrimPrefix(iter.Val(), s.prefix)
		_, user, ok := strings.Cut(rest, "}acct:")
		if !ok {
			continue
		}
		n, err := s.rdb.LLen(ctx, s.ukey(user, "out")).Result()
		if err != nil {
			return fmt.Errorf("redis read the facts of %q: %w", user, err)
		}
		if n > 0 {
			at, ok := firstFact[user]
			if !ok {
				at = float64(p.Now.UnixMilli())
			}
			if err := s.rdb.ZAddNX(ctx, s.skey(shardOf(user), "outbox"), redis.Z{Score: at, Member: user}).Err(); err != nil {
				return fmt.Errorf("redis index the facts of %q: %w", user, err)
			}
		}
		if err := scriptTouch.Run(ctx, s.rdb, s.tail(s.userKeys(user), user), policy, user).Err(); err != nil {
			return fmt.Errorf("redis bring %q up to date: %w", user, err)
		}
		rep.Reindexed++
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis scan the accounts: %w", err)
	}
	return nil
}
