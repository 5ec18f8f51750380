package rewards

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisClaimLastsAsLongAsItsRecord: a key claimed by a call that stopped before its award, retried in the
// next month (its At is then the retry's: its record is kept a month longer than the first call's claim), is
// still the user's for as long as the record is kept: another user's award under it is a replay, not a grant.
func TestRedisClaimLastsAsLongAsItsRecord(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	first := time.Date(2026, time.March, 31, 23, 59, 0, 0, time.UTC)
	clock := testenv.NewClock(first)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, nil)
	a := Award{Key: "order:9", User: "u", Points: 5}
	p := l.policy(clock.Now())
	stopped := a
	stopped.At = first
	// the first call claims the key (kept to 2026-05-02), then stops
	if err := scriptClaim.Run(ctx, rdb, []string{store.claimKey(a.Key)}, a.User, p.keepUntil(stopped).UnixMilli(),
		p.keepTTL(stopped).Milliseconds(), p.Now.UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, time.April, 1, 0, 1, 0, 0, time.UTC))
	if res := mustAward(t, l, a); !res.Applied {
		t.Fatalf("the retry: %+v, want applied", res)
	}
	clock.Set(time.Date(2026, time.May, 20, 0, 0, 0, 0, time.UTC)) // the record is kept to 2026-06-02
	if ok, err := l.Recorded(ctx, a.Key); err != nil || !ok {
		t.Fatalf("Recorded: %v, %v; want true", ok, err)
	}
	if res := mustAward(t, l, Award{Key: a.Key, User: "v", Points: 5}); res.Applied {
		t.Fatalf("another user's award under the key: %+v, want a replay of u's", res)
	}
	if b := mustAccount(t, l, "v").Balance; b != 0 {
		t.Fatalf("v's balance %d, want 0", b)
	}
}

// TestRedisMigratedRedemptionReplayHoldsNoUnit: a redemption made by the layout-1 store (before holds
// existed) retried after the migration is a replay that takes no unit of stock, whether a unit is free or
// not, and the sweep that later resolves its hold counts none either: the units sold stay the units redeemed.
func TestRedisMigratedRedemptionReplayHoldsNoUnit(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	f := loadLayout1(t, rdb, prefix)
	ctx := context.Background()
	clock := testenv.NewClock(f.Now)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, func(c *Config) { c.Catalogue = f.Catalogue })
	if _, err := l.MigrateStore(ctx); err != nil {
		t.Fatal(err)
	}
	left := func() int64 {
		t.Helper()
		m, err := store.Remaining(ctx, f.Catalogue)
		if err != nil {
			t.Fatal(err)
		}
		return m["mug"]
	}
	if got := left(); got != 1 {
		t.Fatalf("mugs left after the migration: %d, want 1 (the fixture's)", got)
	}
	if red, err := l.Redeem(ctx, "u1", "mug", "r-mug-u1"); err != nil || !red.Replayed {
		t.Fatalf("a migrated redemption retried: %+v, %v; want its replay", red, err)
	}
	if got := left(); got != 1 {
		t.Fatalf("mugs left after the replay: %d, want 1", got)
	}
	if _, err := l.Redeem(ctx, "u2", "mug", "r-mug-u2-b"); err != nil {
		t.Fatalf("the last mug: %v", err)
	}
	// sold out now: the replay is answered without a hold, and its entry in the index of holds is resolved
	// by the sweep
	if red, err := l.Redeem(ctx, "u1", "mug", "r-mug-u1"); err != nil || !red.Replayed {
		t.Fatalf("the replay when sold out: %+v, %v", red, err)
	}
	clock.Advance(holdTimeout + time.Minute)
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Get(ctx, store.soldKey("mug")).Int64(); err != nil || n != 5 {
		t.Fatalf("mugs sold: %d, %v; want 5 (four before the migration, one after)", n, err)
	}
	if n, _ := rdb.Get(ctx, store.busyKey("mug")).Int(); n != 0 {
		t.Fatalf("holds in progress: %d, want 0", n)
	}
	if n, _ := rdb.ZCard(ctx, store.heldKey()).Result(); n != 0 {
		t.Fatalf("holds indexed after the sweep: %d, want 0", n)
	}
}

// TestRedisClusterStepsWaitForReplicas: on a Redis Cluster the steps before the user's script (an award key's
// claim; a gift's claim index, a reward's hold and its index) lie on other primaries than the user's, whose
// WAIT does not cover them: each waits for replicas itself (RedisConfig.Wait), so that a failover never loses
// the claim a refund needs to find its order, the index a gift needs to be fulfilled, or the hold that counts
// a unit. A step its replicas did not confirm stops the call before any point moves.
func TestRedisClusterStepsWaitForReplicas(t *testing.T) {
	rdb, prefix := testenv.RedisCluster(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	plain := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), clock, func(c *Config) {
		c.Catalogue = append([]Reward{{ID: "mug", Title: "Mug", Cost: 10, Kind: KindGift}}, testCatalogue...)
	})
	mustAward(t, plain, Award{Key: "seed", User: "u", Points: 100})
	// every primary of the test cluster has one replica: waiting for two always fails
	strict := NewRedisStore(rdb, RedisConfig{Prefix: prefix, Wait: redisack.Wait{Replicas: 2, Timeout: 20 * time.Millisecond}})
	l := newTestLedger(t, strict, clock, func(c *Config) {
		c.Catalogue = append([]Reward{{ID: "mug", Title: "Mug", Cost: 10, Kind: KindGift}}, testCatalogue...)
	})
	if _, err := l.Award(ctx, Award{Key: "k1", User: "u", Points: 5}); !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("award: %v, want ErrNotReplicated", err)
	}
	for _, reward := range []string{"mug", "scarce"} {
		if _, err := l.Redeem(ctx, "u", reward, "r-"+reward); !errors.Is(err, redisack.ErrNotReplicated) {
			t.Fatalf("redeem %s: %v, want ErrNotReplicated", reward, err)
		}
	}
	if b := mustAccount(t, plain, "u").Balance; b != 100 {
		t.Fatalf("balance %d, want 100: no point moved before its first step was confirmed", b)
	}
}

// TestRedisRefusedGiftLeavesNoIndex: a gift's claim index is written before its redemption; a redemption
// refused (too few points, the per-user limit, a request id used for another reward) drops it again, so that
// refused attempts do not pile up keys for ever, but never the index of a redemption made under the request
// id (by a concurrent call with the same id): that is written back.
func TestRedisRefusedGiftLeavesNoIndex(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, func(c *Config) {
		c.Catalogue = []Reward{{ID: "mug", Title: "Mug", Cost: 50, Kind: KindGift, PerUserLimit: 1},
			{ID: "cap", Title: "Cap", Cost: 10, Kind: KindGift}}
	})
	indexed := func(req string) bool {
		t.Helper()
		n, err := rdb.Exists(ctx, store.giftKey(ClaimID("u", req))).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if _, err := l.Redeem(ctx, "u", "mug", "r1"); !errors.Is(err, ErrInsufficientPoints) {
		t.Fatalf("redeem without points: %v", err)
	}
	if indexed("r1") {
		t.Fatal("the claim index of a redemption refused for points is kept")
	}
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 200})
	if _, err := l.Redeem(ctx, "u", "mug", "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Redeem(ctx, "u", "mug", "r3"); !errors.Is(err, ErrLimitReached) {
		t.Fatalf("a second mug: %v, want ErrLimitReached", err)
	}
	if indexed("r3") {
		t.Fatal("the claim index of a redemption refused for the limit is kept")
	}
	if _, err := l.Redeem(ctx, "u", "cap", "r2"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("r2 for another reward: %v, want ErrDuplicate", err)
	}
	// a call refused under r2 (its script ran before the one that made r2) drops the index after it
	if err := store.dropGiftIndex(ctx, "u", "r2", ClaimID("u", "r2")); err != nil {
		t.Fatal(err)
	}
	if !indexed("r2") {
		t.Fatal("the claim index of a redemption made is dropped")
	}
	if red, err := l.Fulfil(ctx, ClaimID("u", "r2")); err != nil || red.FulfilledAt == nil {
		t.Fatalf("fulfil the mug: %+v, %v", red, err)
	}
}

// TestRedisRefusedRetryKeepsTheSharedHold: two calls with the same request id share one hold; one refused
// (too few points when its script ran) does not free the unit while the other may still make the redemption
// (points arrived meanwhile): that unit is the other call's, never sold to a third user as well.
func TestRedisRefusedRetryKeepsTheSharedHold(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	one := Reward{ID: "one", Title: "One", Cost: 10, Kind: KindGift, Stock: 1}
	l := newTestLedger(t, store, clock, func(c *Config) { c.Catalogue = []Reward{one} })
	mustAward(t, l, Award{Key: "seed-u", User: "u", Points: 5})
	mustAward(t, l, Award{Key: "seed-v", User: "v", Points: 50})
	// the first call holds the unit, and is still on its way to the debit
	p := l.policy(clock.Now())
	if err := rdb.ZAdd(ctx, store.heldKey(), redisZ(p, `{"q":"q","r":"one","u":"u"}`)).Err(); err != nil {
		t.Fatal(err)
	}
	if st, err := store.hold(ctx, one, "u\x00q", p); err != nil || st != "ok" {
		t.Fatalf("hold: %q, %v", st, err)
	}
	// its retry runs its script first: too few points
	if _, err := l.Redeem(ctx, "u", "one", "q"); !errors.Is(err, ErrInsufficientPoints) {
		t.Fatalf("the retry: %v, want ErrInsufficientPoints", err)
	}
	mustAward(t, l, Award{Key: "more-u", User: "u", Points: 5})
	if _, err := l.Redeem(ctx, "v", "one", "w"); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("another user while the unit is held: %v, want ErrOutOfStock", err)
	}
	// the first call goes on (as a call sharing its hold, as it would)
	if _, err := l.Redeem(ctx, "u", "one", "q"); err != nil {
		t.Fatalf("the first call's redemption: %v", err)
	}
	if n, err := rdb.Get(ctx, store.soldKey("one")).Int64(); err != nil || n != 1 {
		t.Fatalf("units sold: %d, %v; want 1", n, err)
	}
}
