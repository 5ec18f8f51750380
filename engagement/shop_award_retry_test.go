package engagement

import (
	"context"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
)

// TestShopAwardLateRetry: a retry of a key is a replay for as long as the ledger keeps its record (to the end
// of the month after), not only on its day and the next: it neither takes one of today's per_day slots nor
// is refused when they are used up. A key reused for another user is a conflict even when that user has
// used up the day's slots, and takes none of them.
func TestShopAwardLateRetry(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	testShopAwardLateRetry(t, newSimService(t, clock, NewMemoryStoreWith(MemoryConfig{Now: clock.Now}), rewards.NewMemoryStore()), clock)
}

// TestShopAwardLateRetryRedis is TestShopAwardLateRetry on the Redis stores.
func TestShopAwardLateRetryRedis(t *testing.T) {
	rdb, prefix := testRedis(t)
	clock := testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	testShopAwardLateRetry(t, newSimService(t, clock, NewRedisStore(rdb, RedisConfig{Prefix: prefix + "e:"}),
		rewards.NewRedisStore(rdb, rewards.RedisConfig{Prefix: prefix + "rw:"})), clock)
}

func testShopAwardLateRetry(t *testing.T, svc *Service, clock *testenv.Clock) {
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	review := func(user, key string) (ShopAwardResult, error) {
		r, _, err := svc.AwardShopPoints(ctx, shop, ShopAward{UserID: user, Kind: "review", Key: key})
		return r, err
	}
	for _, k := range []string{"d1-a", "d1-b", "d1-c"} { // per_day 3 by default
		_, err := review("ann", k)
		noErr(t, err)
	}
	clock.Advance(72 * time.Hour) // three business days later
	for _, k := range []string{"d4-a", "d4-b", "d4-c"} {
		_, err := review("ann", k)
		noErr(t, err)
	}
	r, err := review("ann", "d1-a") // the shop's queue retries a day-1 award with today's slots used up
	noErr(t, err)
	if !r.Replayed || r.Points != 10 {
		t.Fatalf("a late retry with the day's slots used: %+v, want the first award replayed", r)
	}

	clock.Advance(24 * time.Hour)
	r, err = review("ann", "d1-b") // a late retry first thing on a new day
	noErr(t, err)
	if !r.Replayed {
		t.Fatalf("a late retry: %+v, want a replay", r)
	}
	for _, k := range []string{"d5-a", "d5-b", "d5-c"} { // the retry took none of the day's three
		if _, err := review("ann", k); err != nil {
			t.Fatalf("%s after a late retry: %v, want all three of the day's awards paid", k, err)
		}
	}
	_, err = review("ann", "d1-c") // ann's key for ann again: still a replay with the slots used up
	noErr(t, err)
	_, err = review("bob", "d5-a") // ann's key for bob: a conflict
	wantHostCode(t, err, CodeConflict)
	for _, k := range []string{"b-1", "b-2", "b-3"} { // the conflict took none of bob's slots
		if _, err := review("bob", k); err != nil {
			t.Fatalf("bob's %s after a refused key: %v", k, err)
		}
	}
	_, err = review("bob", "d5-b") // bob's slots used up: still a conflict, not limit_reached
	wantHostCode(t, err, CodeConflict)
	if acc, _ := svc.Account(ctx, shop, "ann"); acc.Balance != 90 {
		t.Fatalf("ann's balance %d, want 90: nine reviews paid once each", acc.Balance)
	}
}
