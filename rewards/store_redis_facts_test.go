package rewards

import (
	"context"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisSweepFindsAccountsWithoutIndexes: an account written before the sweep's due indexes existed (here:
// its index entries deleted) is found by the sweep's one pass over the accounts, settled with its fact, and
// indexed from then on.
func TestRedisSweepFindsAccountsWithoutIndexes(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), clock, nil)
	for _, u := range []string{"old1", "old2", "old3"} {
		mustAward(t, l, Award{Key: "order:" + u, User: u, Source: "purchase", Points: 100, Pending: true})
	}
	if err := rdb.Del(ctx, prefix+"due:settle", prefix+"due:expire", prefix+"due:warn", prefix+"due:roll").Err(); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(8 * 24 * time.Hour))
	settled := map[string]bool{}
	for range 10000 { // the pass over the whole (shared) test database, a batch per sweep
		if _, err := l.Sweep(ctx, 100); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"old1", "old2", "old3"} {
			if fs := mustFacts(t, l, u); len(fs) == 1 && fs[0].Kind == FactSettled {
				settled[u] = true
			}
		}
		if done, _ := rdb.Exists(ctx, prefix+"due:scanned").Result(); done == 1 && len(settled) == 3 {
			break
		}
	}
	if len(settled) != 3 {
		t.Fatalf("settled by the sweep: %v, want old1, old2, old3", settled)
	}
	if n, err := rdb.ZCard(ctx, prefix+"due:expire").Result(); err != nil || n != 3 {
		t.Fatalf("due:expire holds %d users (%v), want the 3 accounts, indexed by the sweep", n, err)
	}
}
