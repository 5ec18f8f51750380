package rewards

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// The Redis ledger's calls that span slots run in steps (store_redis.go): these tests stop a call between
// two of them, as a crash would, and check that a retry or the sweep completes it without a point or a unit
// lost or counted twice.

// TestRedisAwardStoppedAfterClaim: a key claimed by a call that stopped before its award is applied by the
// retry; another user's award under the key meanwhile is a conflict, never a second grant.
func TestRedisAwardStoppedAfterClaim(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, nil)
	a := Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true}
	p := l.policy(clock.Now())
	if err := scriptClaim.Run(ctx, rdb, []string{store.claimKey(a.Key)}, a.User, t0.Add(time.Hour).UnixMilli(), time.Hour.Milliseconds(), p.Now.UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Award(ctx, Award{Key: a.Key, User: "v", Points: 5}); !errors.Is(err, ErrConflict) {
		t.Fatalf("another user's award under a claimed key: %v, want ErrConflict", err)
	}
	if res := mustAward(t, l, a); !res.Applied || res.Balance != 5 {
		t.Fatalf("the retry: %+v, want applied with balance 5", res)
	}
	if res := mustAward(t, l, Award{Key: a.Key, User: "v", Points: 5}); res.Applied || res.Balance != 5 {
		t.Fatalf("another user's award under the key now: %+v, want the original's replay", res)
	}
	if b := mustAccount(t, l, "v").Balance; b != 0 {
		t.Fatalf("v's balance %d, want 0", b)
	}
}

// TestRedisBoardCopiedByRetry: an award whose call stopped before copying the points to the leaderboard
// (its copy deleted here) is copied by the retry, which replays the award; an older copy arriving late never
// overwrites a newer one.
func TestRedisBoardCopiedByRetry(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, nil)
	mustAward(t, l, Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true})
	old, err := rdb.HGet(ctx, store.ukey("u", "bpts"), "s").Result()
	if err != nil {
		t.Fatal(err)
	}
	a := Award{Key: "poll:p2:u", User: "u", Stream: "s", Points: 7, Participation: true}
	mustAward(t, l, a)
	if err := rdb.Del(ctx, store.boardKey("s"), store.boardVerKey("s")).Err(); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Leaderboard(ctx, "s", 10); len(st) != 0 {
		t.Fatalf("board after its copy was lost: %+v", st)
	}
	if res := mustAward(t, l, a); res.Applied {
		t.Fatal("the retry applied the award again")
	}
	// the first award's copy, late
	if err := scriptBoard.Run(ctx, rdb, []string{store.boardKey("s"), store.boardVerKey("s"), store.boardExpKey("s")}, "u", old, clock.Now().UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	st, err := l.Leaderboard(ctx, "s", 10)
	if err != nil || len(st) != 1 || st[0].Points != 12 {
		t.Fatalf("board after the retry and a late old copy: %+v, %v; want u with 12", st, err)
	}
}

// TestRedisHoldsResolvedBySweep: a unit held by a redemption that never came back is released by the sweep
// once holdTimeout passed; one whose redemption was made is kept; neither before.
func TestRedisHoldsResolvedBySweep(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, nil) // testCatalogue: "scarce", stock 3, cost 10
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	scarce := testCatalogue[2]
	left := func() int64 {
		t.Helper()
		m, err := store.Remaining(ctx, []Reward{scarce})
		if err != nil {
			t.Fatal(err)
		}
		return m["scarce"]
	}
	// lost: held, never debited
	p := l.policy(clock.Now())
	if err := rdb.ZAdd(ctx, store.heldKey(), redisZ(p, `{"q":"lost","r":"scarce","u":"u"}`)).Err(); err != nil {
		t.Fatal(err)
	}
	if st, err := store.hold(ctx, scarce, "u\x00lost", p); err != nil || st != "ok" {
		t.Fatalf("hold: %q, %v", st, err)
	}
	// made: debited, the hold never ended
	if _, err := l.Redeem(ctx, "u", "scarce", "made"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, store.resvKey("scarce"), "u\x00made", p.Now.UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Incr(ctx, store.busyKey("scarce"))
	rdb.ZAdd(ctx, store.heldKey(), redisZ(p, `{"q":"made","r":"scarce","u":"u"}`))
	if got := left(); got != 1 {
		t.Fatalf("left with both holds: %d, want 1", got)
	}
	clock.Advance(holdTimeout - time.Second)
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := left(); got != 1 {
		t.Fatalf("left before the holds timed out: %d, want 1", got)
	}
	clock.Advance(2 * time.Second)
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := left(); got != 2 {
		t.Fatalf("left after the sweep: %d, want 2 (the lost hold released, the made one kept)", got)
	}
	if n, _ := rdb.Get(ctx, store.busyKey("scarce")).Int(); n != 0 {
		t.Fatalf("holds in progress after the sweep: %d, want 0", n)
	}
	if n, _ := rdb.ZCard(ctx, store.heldKey()).Result(); n != 0 {
		t.Fatalf("holds indexed after the sweep: %d, want 0", n)
	}
	if red, err := l.Redeem(ctx, "u", "scarce", "made"); err != nil || !red.Replayed {
		t.Fatalf("the made redemption's retry: %+v, %v; want its replay", red, err)
	}
	if got := left(); got != 2 {
		t.Fatalf("left after the retry: %d, want 2", got)
	}
}

// TestRedisGiftIndexWithoutItsRedemption: a gift index is written before its redemption; one whose
// redemption was refused, or whose request holds another claim, fulfils nothing.
func TestRedisGiftIndexWithoutItsRedemption(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, func(c *Config) {
		c.Catalogue = []Reward{{ID: "mug", Title: "Mug", Cost: 50, Kind: KindGift}}
	})
	if _, err := l.Redeem(ctx, "u", "mug", "r1"); !errors.Is(err, ErrInsufficientPoints) {
		t.Fatalf("redeem without points: %v", err)
	}
	if _, err := l.Fulfil(ctx, ClaimID("u", "r1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fulfil the claim of a refused redemption: %v, want ErrNotFound", err)
	}
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	if _, err := l.Redeem(ctx, "u", "mug", "r2"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, store.giftKey("forged"), `{"user":"u","req":"r2"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fulfil(ctx, "forged"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fulfil an index whose redemption has another claim: %v, want ErrNotFound", err)
	}
	if red, err := l.Fulfil(ctx, ClaimID("u", "r2")); err != nil || red.FulfilledAt == nil {
		t.Fatalf("fulfil the real claim: %+v, %v", red, err)
	}
}

func redisZ(p Policy, member string) redis.Z {
	return redis.Z{Score: float64(p.Now.UnixMilli()), Member: member}
}
