package loyalty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
)

// The fold test: a randomised run (fixed seeds) of awards, purchases, refunds (whole and partial),
// redemptions, reads, sweeps, expiry and month ends (23:59 and 00:01 Beijing time on a month's last day) on a
// fake clock, through the Service over a memory and a Redis ledger, with a sink that loses some publications
// of the ledger's facts (before the spool, and after it with the acknowledgement lost). Folding every event
// the sink kept gives exactly the ledger's balance, pending points and tier of every user, at checkpoints
// along the run and at its end; and folding them with any one kind of balance event left out does not (the
// run exercises each, so a change without its event could not pass).

var foldSeeds = []uint64{1, 2, 3, 4}

const (
	foldUsers = 5
	foldSteps = 320
)

// foldBeijing is the business calendar of the run (the default, Asia/Shanghai).
var foldBeijing = rewards.DefaultLocation()

func TestBalanceFoldMatchesLedgerMemory(t *testing.T) {
	for _, seed := range foldSeeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			checkFold(t, runFoldScenario(t, seed, rewards.NewMemoryStore()))
		})
	}
}

func TestBalanceFoldMatchesLedgerRedis(t *testing.T) {
	for _, seed := range foldSeeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rdb, prefix := testenv.Redis(t)
			checkFold(t, runFoldScenario(t, seed, rewards.NewRedisStore(rdb, rewards.RedisConfig{Prefix: prefix + "rw:"})))
		})
	}
}

// balanceKinds are the event types that move a balance, pending points or a tier.
var balanceKinds = []string{
	engagement.EventPointsAwarded, engagement.EventPointsSettled, engagement.EventPurchaseRefunded,
	engagement.EventPointsRedeemed, engagement.EventPointsExpired, engagement.EventTierChanged,
}

// foldRun is what a scenario leaves: every event the sink kept and the ledger's state of every user.
type foldRun struct {
	events []engagement.Event
	truth  map[string]Balance
	sink   *lossySink
}

func checkFold(t *testing.T, run foldRun) {
	t.Helper()
	counts := map[string]int{}
	for _, ev := range run.events {
		counts[ev.Type]++
	}
	for _, kind := range append(balanceKinds, engagement.EventPointsExpiring) {
		if counts[kind] == 0 {
			t.Fatalf("the run produced no %s (counts %v): it does not exercise every balance change", kind, counts)
		}
	}
	if run.sink.lost == 0 || run.sink.repeated == 0 {
		t.Fatalf("the sink lost %d and repeated %d publications: the run exercises no failure", run.sink.lost, run.sink.repeated)
	}
	// Every event matches its schema (docs/events/).
	schemas := testenv.EventSchemas(t, "../../../docs/events")
	for i, ev := range run.events {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if typ, err := testenv.ValidateEvent(schemas, raw); err != nil {
			t.Fatalf("event %d (%s) does not match its schema: %v\n%s", i, typ, err, raw)
		}
	}
	if diff := foldDiff(t, run.events, run.truth, ""); diff != "" {
		t.Fatalf("the fold disagrees with the ledger:\n%s", diff)
	}
	// Delivery order and duplicates do not matter: the events shuffled, a third of them twice, fold the same.
	shuffled := append([]engagement.Event{}, run.events...)
	shuffled = append(shuffled, run.events[:len(run.events)/3]...)
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if diff := foldDiff(t, shuffled, run.truth, ""); diff != "" {
		t.Fatalf("the fold of the shuffled events with duplicates disagrees with the ledger:\n%s", diff)
	}
	// A test of the test: without any one kind of balance event the fold must disagree.
	for _, kind := range balanceKinds {
		if diff := foldDiff(t, run.events, run.truth, kind); diff == "" {
			t.Errorf("without %s the fold still agrees with the ledger: the check cannot see a missing event", kind)
		}
	}
	t.Logf("events %v; sink lost %d, repeated %d publications of facts", counts, run.sink.lost, run.sink.repeated)
}

// foldDiff folds events (without those of type drop) and lists the users whose Balance differs from truth.
func foldDiff(t *testing.T, events []engagement.Event, truth map[string]Balance, drop string) string {
	t.Helper()
	f := NewBalanceFold(TierBronze)
	for _, ev := range events {
		if ev.Type == drop {
			continue
		}
		if err := f.Add(ev); err != nil {
			t.Fatalf("fold %s: %v", ev.Type, err)
		}
	}
	got := f.Balances()
	var diff string
	users := make([]string, 0, len(truth))
	for u := range truth {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		g, ok := got[u]
		if !ok {
			g = Balance{Tier: TierBronze}
		}
		if g != truth[u] {
			diff += fmt.Sprintf("  %s: fold %+v, ledger %+v\n", u, g, truth[u])
		}
	}
	return diff
}

// lossySink keeps events in memory but loses some publications of the ledger's facts (points.settled,
// points.expired, points.expiring, tier.changed): as if the process stopped before they reached the spool,
// or after, before the facts were acknowledged.
type lossySink struct {
	mu             sync.Mutex
	mem            *engagement.MemorySink
	rnd            *rand.Rand
	lost, repeated int
}

var errInjected = errors.New("injected publication failure")

func (s *lossySink) Publish(ctx context.Context, evs ...engagement.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	facts := len(evs) > 0
	for _, ev := range evs {
		switch ev.Type {
		case engagement.EventPointsSettled, engagement.EventPointsExpired, engagement.EventPointsExpiring, engagement.EventTierChanged:
		default:
			facts = false
		}
	}
	if facts {
		switch s.rnd.IntN(8) {
		case 0:
			s.lost++
			return errInjected
		case 1:
			s.repeated++
			_ = s.mem.Publish(ctx, evs...)
			return errInjected
		}
	}
	return s.mem.Publish(ctx, evs...)
}

func (s *lossySink) Close() error { return nil }

// runFoldScenario drives the Service for foldSteps random steps over store and returns the run.
func runFoldScenario(t *testing.T, seed uint64, store rewards.Store) foldRun {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 0x6b75646f73))
	clock := testenv.NewClock(time.Date(2026, time.January, 10, 10, 0, 0, 0, foldBeijing))
	ledger, err := rewards.NewLedger(store, rewards.Config{
		Now:          clock.Now,
		ExpiryMonths: 3, // expiry within the run
		Tiers: []rewards.TierRule{
			{Tier: rewards.TierBronze, Threshold: 0, Multiplier: 1},
			{Tier: rewards.TierSilver, Threshold: 600, Multiplier: 1.1},
			{Tier: rewards.TierGold, Threshold: 2500, Multiplier: 1.25},
		},
		Catalogue: []rewards.Reward{{ID: "sticker", Title: "Sticker", Cost: 40, Kind: rewards.KindGift}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules := engagement.DefaultRules()
	rules.Watch = engagement.WatchRule{PerMinute: 15, MaxPerStream: 1_000_000}
	sink := &lossySink{mem: engagement.NewMemorySink(), rnd: rand.New(rand.NewPCG(seed, 1))}
	svc := engagement.New(engagement.Config{Node: "node-1", Now: clock.Now, Rules: &rules, Ledger: ledger,
		Logger: slog.New(slog.DiscardHandler)}, engagement.NewMemoryStore(), sink)

	host := engagement.Actor{User: "host", Name: "Host", Role: engagement.RoleHost}
	shop := engagement.Actor{User: "shop", Name: "Shop", Role: engagement.RoleService}
	users := make([]string, foldUsers)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
	}
	stream, streamDay := "", ""
	liveStream := func() string {
		if day := clock.Now().In(foldBeijing).Format("20060102"); day != streamDay {
			streamDay, stream = day, "show-"+day
			if _, err := svc.CreateStream(ctx, host, engagement.StreamSpec{ID: stream, Title: "Show"}); err != nil {
				t.Fatalf("create stream: %v", err)
			}
		}
		return stream
	}
	type order struct {
		id, user string
		amount   int64
	}
	var orders []order
	truth := func() map[string]Balance {
		m := map[string]Balance{}
		for _, u := range users {
			acct, err := ledger.Account(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			m[u] = Balance{Balance: acct.Balance, Pending: acct.Pending, Tier: string(acct.Tier)}
		}
		return m
	}
	// settle brings every user up to date and publishes every fact (retrying what the sink lost).
	settle := func() {
		for range 100 {
			n, err := svc.SweepLedger(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
		t.Fatal("facts still unpublished after 100 sweeps")
	}
	checkpoint := func(step int) {
		settle()
		want := truth()
		for _, u := range users {
			if fs, err := ledger.Facts(ctx, u); err != nil || len(fs) != 0 {
				t.Fatalf("step %d: %s has facts %+v after the sweeps (%v)", step, u, fs, err)
			}
		}
		if diff := foldDiff(t, sink.mem.Events(), want, ""); diff != "" {
			t.Fatalf("step %d (%s): the fold disagrees with the ledger:\n%s", step, clock.Now().In(foldBeijing).Format(time.DateTime), diff)
		}
	}

	monthEnd := false
	for step := range foldSteps {
		// The clock: mostly up to ~3 days on; sometimes to 23:59 on the month's last day (Beijing), then 00:01.
		now := clock.Now().In(foldBeijing)
		switch {
		case monthEnd:
			clock.Advance(2 * time.Minute)
			monthEnd = false
		case rnd.IntN(10) == 0:
			last := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, foldBeijing).Add(-time.Minute)
			if last.After(now) {
				clock.Set(last)
				monthEnd = true
			}
		default:
			clock.Advance(time.Minute + time.Duration(rnd.Int64N(int64(72*time.Hour))))
		}
		user := users[rnd.IntN(len(users))]
		viewer := engagement.Actor{User: user, Name: user, Role: engagement.RoleViewer}
		switch r := rnd.IntN(100); {
		case r < 35:
			svc.Watched(ctx, viewer, liveStream())
		case r < 55:
			o := order{id: fmt.Sprintf("o%d-%d", seed, step), user: user, amount: 100 + rnd.Int64N(150_000)}
			if _, _, err := svc.RecordPurchase(ctx, shop, engagement.Purchase{OrderID: o.id, UserID: user, StreamID: liveStream(), AmountFen: o.amount}); err != nil {
				t.Fatalf("purchase: %v", err)
			}
			orders = append(orders, o)
		case r < 68:
			if len(orders) == 0 {
				continue
			}
			o := orders[len(orders)-1]
			if rnd.IntN(2) == 0 {
				o = orders[rnd.IntN(len(orders))]
			}
			refund := engagement.Refund{}
			if rnd.IntN(5) < 2 {
				refund = engagement.Refund{RefundID: fmt.Sprint("r", step), AmountFen: 1 + rnd.Int64N(max(1, o.amount/2))}
			}
			_, _ = svc.RefundPurchase(ctx, shop, o.id, refund) // refused ones (too late, already refunded) change nothing
		case r < 80:
			_, _ = svc.Redeem(ctx, viewer, user, "sticker", fmt.Sprint("q", step)) // not enough points: nothing
		case r < 90:
			if _, err := svc.Account(ctx, viewer, user); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := svc.SweepLedger(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if step%40 == 39 {
			checkpoint(step)
		}
	}
	checkpoint(foldSteps)
	return foldRun{events: sink.mem.Events(), truth: truth(), sink: sink}
}
