package rewards

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisClusterRetriesNeverOversell: on the Redis Cluster, users redeem two limited rewards at once, each
// request id sent three times concurrently (for one reward or the other), while awards under keys shared by
// every user land on their accounts. Whatever the interleaving: the units sold are the redemptions made, never
// more than the stock; no hold stays in progress; the sweep leaves the index of holds empty and the counts as
// they were; and every point is accounted for.
func TestRedisClusterRetriesNeverOversell(t *testing.T) {
	for round := range 8 {
		rdb, prefix := testenv.RedisCluster(t)
		ctx := context.Background()
		clock := testenv.NewClock(t0)
		store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
		stock := map[string]int64{"s": 5, "c": 4}
		l := newTestLedger(t, store, clock, func(c *Config) {
			c.Catalogue = []Reward{{ID: "s", Title: "s", Cost: 10, Stock: stock["s"], Kind: KindGift},
				{ID: "c", Title: "c", Cost: 10, Stock: stock["c"], PerUserLimit: 1}}
		})
		users := []string{"a", "b", "c", "d", "e", "f"}
		for _, u := range users {
			mustAward(t, l, Award{Key: "seed-" + u, User: u, Points: 25})
		}
		var wg sync.WaitGroup
		for _, u := range users {
			for i := range 3 {
				for rep := range 3 {
					wg.Go(func() { _, _ = l.Redeem(ctx, u, []string{"s", "c"}[(i+rep)%2], fmt.Sprint("q", i)) })
				}
			}
			for i := range 3 { // one award per shared key, to whichever user claims it first
				wg.Go(func() { _, _ = l.Award(ctx, Award{Key: fmt.Sprint("shared", i), User: u, Points: 3}) })
			}
		}
		wg.Wait()
		made := map[string]int64{}
		var balances, spent int64
		for _, u := range users {
			rs, err := l.store.Redemptions(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				made[r.RewardID]++
				spent += r.Cost
			}
			balances += mustAccount(t, l, u).Balance
		}
		check := func(when string) {
			t.Helper()
			for id, n := range stock {
				sold, _ := rdb.Get(ctx, store.soldKey(id)).Int64()
				busy, _ := rdb.Get(ctx, store.busyKey(id)).Int64()
				if sold != made[id] || sold > n || busy != 0 {
					t.Errorf("round %d, %s, %s: %d sold, %d redemptions, stock %d, %d holds in progress", round, when, id, sold, made[id], n, busy)
				}
			}
		}
		check("after the calls")
		if want := int64(len(users))*25 + 3*3 - spent; balances != want {
			t.Errorf("round %d: balances %d, want %d (seeds, three shared keys paid once each, less %d spent)", round, balances, want, spent)
		}
		clock.Advance(holdTimeout + time.Minute)
		if _, err := l.Sweep(ctx, 1000); err != nil {
			t.Fatal(err)
		}
		check("after the sweep")
		if n, _ := rdb.ZCard(ctx, store.heldKey()).Result(); n != 0 {
			t.Errorf("round %d: %d holds indexed after the sweep", round, n)
		}
	}
}
