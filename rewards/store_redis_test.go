package rewards

import (
	"context"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// newTestRedisStore returns a RedisStore on the test Redis under a key prefix of its own (see testenv.Redis).
func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

func TestRedisStoreConformance(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runStoreConformance(t, newTestRedisStore)
}

// TestRedisAwardRecordsExpire checks the documented TTLs (store_redis.go): an award record lives to the end of
// the month after its award's month, an order's ExpiryMonths after it, each plus a day; a stream's leaderboard
// as long as the record of its last award, never shortened by a late one.
func TestRedisAwardRecordsExpire(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	clock := testenv.NewClock(t0) // 2026-03-10 12:00
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, nil)
	mustAward(t, l, Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true})
	mustAward(t, l, Award{Key: "order:1", User: "u", Stream: "s", Source: "purchase", Points: 50, Pending: true})
	lateAt := time.Date(2026, time.February, 20, 0, 0, 0, 0, time.UTC)
	mustAward(t, l, Award{Key: "poll:p0:u", User: "u", Stream: "s", Points: 5, Participation: true, At: lateAt})
	day := 24 * time.Hour
	tests := []struct {
		key   string
		until time.Time
	}{
		{store.recordKey("u", "poll:p1:u"), time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Add(day)},
		{store.claimKey("poll:p1:u"), time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Add(day)},
		{store.recordKey("u", "poll:p0:u"), time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC).Add(day)},
		{store.recordKey("u", "order:1"), t0.AddDate(1, 0, 0).Add(day)},
		{store.claimKey("order:1"), t0.AddDate(1, 0, 0).Add(day)},
		{store.boardKey("s"), time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Add(day)},
		{store.boardVerKey("s"), time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Add(day)},
	}
	ctx := context.Background()
	for _, tt := range tests {
		got, err := rdb.PTTL(ctx, tt.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := tt.until.Sub(t0); got > want || got < want-time.Minute {
			t.Errorf("PTTL %s = %v, want %v (until %s)", tt.key, got, want, tt.until.Format(time.DateTime))
		}
	}
}

// TestRedisCatalogueSurvivesRestart: a catalogue stored by one RedisStore is read by a new one on the same
// keys (a restarted node) with its units redeemed; a counter from before sold ({r:<reward>}legacy, units
// left, as the migration moves it) is read as the units left until the first redemption records sold.
func TestRedisCatalogueSurvivesRestart(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), clock, nil)
	cat := []Reward{{ID: "mug", Title: "Mug", Cost: 10, Kind: KindGift, Stock: 4}, {ID: "old", Title: "Old", Cost: 10, Kind: KindGift, Stock: 10}}
	if err := l.SetCatalogue(ctx, cat); err != nil {
		t.Fatal(err)
	}
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	if _, err := l.Redeem(ctx, "u", "mug", "r1"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, NewRedisStore(rdb, RedisConfig{Prefix: prefix}).legacyStockKey("old"), 3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	restarted := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), clock, nil)
	rs, err := restarted.Available(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "mug" || *rs[0].Remaining != 3 || *rs[1].Remaining != 3 {
		t.Fatalf("after a restart: %+v; want mug with 3 left and old with its legacy 3", rs)
	}
	if _, err := restarted.Redeem(ctx, "u", "old", "r2"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := restarted.Available(ctx); *rs[1].Remaining != 2 {
		t.Fatalf("old after a redemption: %d left, want 2", *rs[1].Remaining)
	}
}
