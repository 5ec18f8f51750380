package rewards

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

func TestZZProbeDiff(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		probeSeed(t, seed)
	}
}

func probeSeed(t *testing.T, seed uint64) {
	ctx := context.Background()
	clockM, clockR := testenv.NewClock(t0), testenv.NewClock(t0)
	mut := func(c *Config) { c.MonthlyCap = 3000; if seed%2 == 0 { c.TierBasis = BasisSpend } ; if seed%3 == 0 { c.CapSources = []string{"watch"} } }
	lm := newTestLedger(t, NewMemoryStore(), clockM, mut)
	lr := newTestLedger(t, newTestRedisStore(t), clockR, mut)
	r := rand.New(rand.NewPCG(seed, 7))
	users := []string{"a", "b"}
	orders := 0
	var log []string
	for step := 0; step < 200; step++ {
		var desc string
		var em, er error
		var rm, rr any
		u := users[r.IntN(2)]
		switch k := r.IntN(10); {
		case k < 2:
			key := fmt.Sprint("w", step)
			desc = "award " + key
			a := Award{Key: key, User: u, Stream: "s", Source: "watch", Points: int64(r.IntN(500) + 1), Participation: true}
			rm, em = lm.Award(ctx, a)
			rr, er = lr.Award(ctx, a)
		case k < 4:
			orders++
			key := fmt.Sprint("order:", orders)
			amt := int64(r.IntN(100000) + 1)
			if r.IntN(5) == 0 { amt = 0 }
			a := Award{Key: key, User: u, Stream: "s", Source: "purchase", Points: amt / 100 + int64(r.IntN(3)), Pending: true, Amount: amt}
			desc = fmt.Sprintf("order %s %d", key, amt)
			rm, em = lm.Award(ctx, a)
			rr, er = lr.Award(ctx, a)
		case k < 7 && orders > 0:
			key := fmt.Sprint("order:", r.IntN(orders)+1)
			p := RefundPart{ID: fmt.Sprint("p", r.IntN(4)), Amount: int64(r.IntN(30000) + 1)}
			desc = fmt.Sprintf("part %s %+v", key, p)
			rm, em = lm.RefundPart(ctx, key, p, time.Time{})
			rr, er = lr.RefundPart(ctx, key, p, time.Time{})
		case k < 8 && orders > 0:
			key := fmt.Sprint("order:", r.IntN(orders)+1)
			desc = "whole " + key
			at := time.Time{}
			if r.IntN(3) == 0 { at = clockM.Now().Add(-time.Duration(r.IntN(10*24)) * time.Hour) }
			rm, em = lm.Refund(ctx, key, at)
			rr, er = lr.Refund(ctx, key, at)
		case k < 9:
			d := time.Duration(r.IntN(20*24)) * time.Hour
			if r.IntN(6) == 0 { d = time.Duration(r.IntN(400)) * 24 * time.Hour }
			clockM.Advance(d); clockR.Advance(d)
			desc = "advance " + d.String()
			rm, rr = nil, nil
		default:
			desc = "redeem"
			rm, em = lm.Redeem(ctx, u, "small", fmt.Sprint("rq", step))
			rr, er = lr.Redeem(ctx, u, "small", fmt.Sprint("rq", step))
		}
		log = append(log, desc)
		if fmt.Sprint(em) != fmt.Sprint(er) {
			t.Fatalf("seed %d step %d %s: errors differ: mem %v redis %v\n%v", seed, step, desc, em, er, log)
		}
		if em == nil && !reflect.DeepEqual(rm, rr) {
			if _, ok := rm.(AwardResult); !ok || true {
				t.Fatalf("seed %d step %d %s: results differ:\nmem   %+v\nredis %+v\n%v", seed, step, desc, rm, rr, log)
			}
		}
		bm, _ := lm.Leaderboard(ctx, "s", 10)
		br, _ := lr.Leaderboard(ctx, "s", 10)
		if clockM.Now().Before(time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)) && !reflect.DeepEqual(bm, br) { t.Fatalf("seed %d step %d boards differ %v %v\n%v", seed, step, bm, br, log) }
		for _, uu := range users {
			fm, _ := lm.Facts(ctx, uu)
			fr, _ := lr.Facts(ctx, uu)
			if !reflect.DeepEqual(factLinesNoT(fm), factLinesNoT(fr)) {
				t.Fatalf("seed %d step %d %s: facts of %s differ:\nmem   %v\nredis %v\n%v", seed, step, desc, uu, factLinesNoT(fm), factLinesNoT(fr), log)
			}
			if step%15 != 14 { continue }
			am, _ := lm.Account(ctx, uu)
			ar, _ := lr.Account(ctx, uu)
			am.Recent, ar.Recent = nil, nil
			if !reflect.DeepEqual(am, ar) {
				t.Fatalf("seed %d step %d %s: accounts of %s differ:\nmem   %+v\nredis %+v\n%v", seed, step, desc, uu, am, ar, log)
			}
			emm, _ := lm.Entries(ctx, uu)
			err2, _ := lr.Entries(ctx, uu)
			if !reflect.DeepEqual(emm, err2) {
				t.Fatalf("seed %d step %d %s: entries of %s differ:\nmem   %+v\nredis %+v\n%v", seed, step, desc, uu, emm, err2, log)
			}
		}
	}
}

func factLinesNoT(fs []Fact) []string {
	var out []string
	for _, f := range fs { out = append(out, fmt.Sprint(f.Seq, " ", factLine(f))) }
	return out
}
