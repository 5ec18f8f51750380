package rewards

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestStoresAgree runs the same seeded random sequences of awards, purchases with and without an amount,
// partial refunds (ids reused, amounts too large), whole refunds (some dated back), redemptions and jumps of
// the clock (up to past expiry) on a MemoryStore and a RedisStore, and requires the same answers, errors,
// facts (read after every call, before anything else touches the user), accounts, entries and leaderboards.
// It also checks that an order never gives back more than it was granted, gives back all of it once refunded
// whole, and that no account goes below zero.
func TestStoresAgree(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	const seeds, steps = 20, 150
	for seed := uint64(1); seed <= seeds; seed++ {
		storesAgree(t, seed, steps)
	}
}

func storesAgree(t *testing.T, seed uint64, steps int) {
	ctx := context.Background()
	clockM, clockR := testenv.NewClock(t0), testenv.NewClock(t0)
	mutate := func(c *Config) {
		c.MonthlyCap = 3000
		if seed%2 == 0 {
			c.TierBasis = BasisSpend
		}
		if seed%3 == 0 {
			c.CapSources = []string{"watch"}
		}
	}
	mem := newTestLedger(t, NewMemoryStore(), clockM, mutate)
	red := newTestLedger(t, newTestRedisStore(t), clockR, mutate)
	rnd := rand.New(rand.NewPCG(seed, 7))
	users := []string{"a", "b"}
	var (
		orders  int
		history []string
		granted = map[string]int64{} // order → points granted
		back    = map[string]int64{} // order → points given back (cancelled, reversed or short)
	)
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: %s\nafter: %s", seed, step, fmt.Sprintf(format, args...), strings.Join(history, "; "))
	}
	refunded := func(step int, key string, v any, err error) {
		t.Helper()
		if err != nil {
			return
		}
		res := v.(RefundResult)
		if res.Cancelled < 0 || res.Reversed < 0 || res.Shortfall < 0 {
			fail(step, "negative refund %+v", res)
		}
		if res.Replayed {
			return
		}
		back[key] += res.Cancelled + res.Reversed + res.Shortfall
		if back[key] > granted[key] || (res.Full && back[key] != granted[key]) {
			fail(step, "order %s granted %d gave back %d (last %+v)", key, granted[key], back[key], res)
		}
	}
	for step := range steps {
		var (
			desc     string
			em, er   error
			got, out any // the memory and Redis answers
		)
		user := users[rnd.IntN(len(users))]
		switch k := rnd.IntN(10); {
		case k < 2:
			a := Award{Key: fmt.Sprint("w", step), User: user, Stream: "s", Source: "watch", Points: int64(rnd.IntN(500) + 1), Participation: true}
			desc = "award " + a.Key
			got, em = mem.Award(ctx, a)
			out, er = red.Award(ctx, a)
		case k < 4:
			orders++
			amount := int64(rnd.IntN(100000) + 1)
			if rnd.IntN(5) == 0 {
				amount = 0 // refundable only whole
			}
			a := Award{Key: fmt.Sprint("order:", orders), User: user, Stream: "s", Source: "purchase", Points: amount/100 + int64(rnd.IntN(3)),
				Pending: true, Amount: amount}
			desc = fmt.Sprintf("order %s of %d", a.Key, amount)
			got, em = mem.Award(ctx, a)
			out, er = red.Award(ctx, a)
			if em == nil {
				granted[a.Key] = got.(AwardResult).Granted
			}
		case k < 7 && orders > 0:
			key := fmt.Sprint("order:", rnd.IntN(orders)+1)
			part := RefundPart{ID: fmt.Sprint("p", rnd.IntN(4)), Amount: int64(rnd.IntN(30000) + 1)}
			desc = fmt.Sprintf("part %s of %s, %d", part.ID, key, part.Amount)
			got, em = mem.RefundPart(ctx, key, part, time.Time{})
			out, er = red.RefundPart(ctx, key, part, time.Time{})
			refunded(step, key, got, em)
		case k < 8 && orders > 0:
			key := fmt.Sprint("order:", rnd.IntN(orders)+1)
			var at time.Time
			if rnd.IntN(3) == 0 {
				at = clockM.Now().Add(-time.Duration(rnd.IntN(10*24)) * time.Hour)
			}
			desc = "whole " + key
			got, em = mem.Refund(ctx, key, at)
			out, er = red.Refund(ctx, key, at)
			refunded(step, key, got, em)
		case k < 9:
			d := time.Duration(rnd.IntN(20*24)) * time.Hour
			if rnd.IntN(6) == 0 {
				d = time.Duration(rnd.IntN(400)) * 24 * time.Hour
			}
			clockM.Advance(d)
			clockR.Advance(d)
			desc = "advance " + d.String()
		default:
			req := fmt.Sprint("rq", step)
			desc = "redeem " + req
			got, em = mem.Redeem(ctx, user, "small", req)
			out, er = red.Redeem(ctx, user, "small", req)
		}
		history = append(history, desc)
		if fmt.Sprint(em) != fmt.Sprint(er) {
			fail(step, "%s: memory %v, Redis %v", desc, em, er)
		}
		if em == nil && !reflect.DeepEqual(got, out) {
			fail(step, "%s:\nmemory %+v\nRedis  %+v", desc, got, out)
		}
		// the stores expire leaderboards on different clocks (Redis by TTL, in real time): compare them only
		// while the suite's clock is inside the months the first awards keep them
		if clockM.Now().Before(time.Date(2026, time.April, 30, 0, 0, 0, 0, time.UTC)) {
			bm, _ := mem.Leaderboard(ctx, "s", 10)
			br, _ := red.Leaderboard(ctx, "s", 10)
			if !reflect.DeepEqual(bm, br) {
				fail(step, "leaderboards: memory %v, Redis %v", bm, br)
			}
		}
		for _, u := range users {
			fm, fr := mustFacts(t, mem, u), mustFacts(t, red, u)
			if lm, lr := seqLines(fm), seqLines(fr); !reflect.DeepEqual(lm, lr) {
				fail(step, "%s: facts of %s:\nmemory %v\nRedis  %v", desc, u, lm, lr)
			}
			if step%15 != 14 { // an account settles and expires: read it now and then, not after every call
				continue
			}
			am, ar := mustAccount(t, mem, u), mustAccount(t, red, u)
			if am.Balance < 0 || am.Pending < 0 || am.EarnedThisMonth < 0 || am.Spent12Months < 0 {
				fail(step, "account of %s below zero: %+v", u, am)
			}
			am.Recent, ar.Recent = nil, nil
			if !reflect.DeepEqual(am, ar) {
				fail(step, "accounts of %s:\nmemory %+v\nRedis  %+v", u, am, ar)
			}
			entm, _ := mem.Entries(ctx, u)
			entr, _ := red.Entries(ctx, u)
			if !reflect.DeepEqual(entm, entr) {
				fail(step, "entries of %s:\nmemory %+v\nRedis  %+v", u, entm, entr)
			}
		}
	}
}

func seqLines(fs []Fact) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, fmt.Sprint(f.Seq, " ", factLine(f)))
	}
	return out
}
