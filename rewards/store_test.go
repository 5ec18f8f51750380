package rewards

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// runStoreConformance is the one suite every Store passes. It drives the Store through a Ledger with a
// fake clock, so it pins the ledger's rules and the store's atomicity together.
func runStoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("MonthlyCap", func(t *testing.T) { testMonthlyCap(t, newStore) })
	t.Run("CapResetsMonthly", func(t *testing.T) { testCapResetsMonthly(t, newStore) })
	t.Run("MonthsInBeijingTime", func(t *testing.T) { testMonthsInBeijingTime(t, newStore) })
	t.Run("MonthsInUTC", func(t *testing.T) { testMonthsInUTC(t, newStore) })
	t.Run("TierWindowInBeijingTime", func(t *testing.T) { testTierWindowInBeijingTime(t, newStore) })
	t.Run("TierMultipliers", func(t *testing.T) { testTierMultipliers(t, newStore) })
	t.Run("TierThresholds", func(t *testing.T) { testTierThresholds(t, newStore) })
	t.Run("TierWindowAndDowngrade", func(t *testing.T) { testTierWindow(t, newStore) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStore) })
	t.Run("FingerprintConflict", func(t *testing.T) { testFingerprintConflict(t, newStore) })
	t.Run("PendingSettleRefund", func(t *testing.T) { testPendingSettleRefund(t, newStore) })
	t.Run("PartialRefunds", func(t *testing.T) { testPartialRefunds(t, newStore) }) // refund_part_test.go
	t.Run("RefundRecordsDueFacts", func(t *testing.T) { testRefundRecordsDueFacts(t, newStore) })
	t.Run("ExpiryOldestFirst", func(t *testing.T) { testExpiry(t, newStore) })
	t.Run("Redemption", func(t *testing.T) { testRedemption(t, newStore) })
	t.Run("Leaderboard", func(t *testing.T) { testLeaderboard(t, newStore) })
	t.Run("EntriesAndAccount", func(t *testing.T) { testEntries(t, newStore) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newStore) })
	t.Run("ConcurrentNearCap", func(t *testing.T) { testConcurrentNearCap(t, newStore) })
	t.Run("ConcurrentRedeem", func(t *testing.T) { testConcurrentRedeem(t, newStore) })
	t.Run("Remaining", func(t *testing.T) { testRemaining(t, newStore) })
	t.Run("IdempotencyWindow", func(t *testing.T) { testIdempotencyWindow(t, newStore) })
	t.Run("Recorded", func(t *testing.T) { testRecorded(t, newStore) }) // recorded_test.go
	t.Run("OrdersKeptForExpiryMonths", func(t *testing.T) { testOrdersKept(t, newStore) })
	t.Run("CatalogueReplaced", func(t *testing.T) { testCatalogueReplaced(t, newStore) })
	t.Run("ConcurrentStockAndPerUserLimit", func(t *testing.T) { testConcurrentStockAndLimit(t, newStore) })
	t.Run("CouponCodeAndGiftClaim", func(t *testing.T) { testCodeAndClaim(t, newStore) })
	t.Run("RedemptionsListed", func(t *testing.T) { testRedemptionsListed(t, newStore) }) // redemptions_test.go
	t.Run("Facts", func(t *testing.T) { testFacts(t, newStore) })
	t.Run("FactsAcknowledged", func(t *testing.T) { testFactsAck(t, newStore) })
	t.Run("Sweep", func(t *testing.T) { testSweep(t, newStore) })
	t.Run("MonthEndInBeijingTime", func(t *testing.T) { testMonthEndBeijing(t, newStore) })
	t.Run("KeyReusedAfterExpiry", func(t *testing.T) { testKeyReusedAfterExpiry(t, newStore) })       // reuse_expiry_test.go
	t.Run("LeaderboardAfterExpiry", func(t *testing.T) { testLeaderboardAfterExpiry(t, newStore) })   // reuse_expiry_test.go
	t.Run("LeaderboardKeptByOthers", func(t *testing.T) { testLeaderboardKeptByOthers(t, newStore) }) // reuse_expiry_test.go
}

// testCatalogueReplaced: the configured catalogue until SetCatalogue, then the stored one, read by a second
// ledger over the same store (another node) too; units redeemed count against a changed stock; redemptions
// use the new costs; an invalid catalogue is refused and changes nothing.
func testCatalogueReplaced(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	store := newStore(t)
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, store, clock, nil)
	other := newTestLedger(t, store, clock, nil)
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	if _, err := l.Redeem(ctx, "u", "scarce", "r1"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := other.Catalogue(ctx); len(rs) != len(testCatalogue) {
		t.Fatalf("before any replacement: %+v, want the configured catalogue", rs)
	}
	next := []Reward{
		{ID: "scarce", Title: "scarce again", Cost: 20, Kind: KindGift, Stock: 2},
		{ID: "coupon", Title: "¥1 off", Cost: 5, Kind: KindCoupon, DiscountFen: 100, PerUserLimit: 1},
	}
	if err := l.SetCatalogue(ctx, next); err != nil {
		t.Fatal(err)
	}
	rs, err := other.Available(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "coupon" || rs[1].ID != "scarce" || rs[1].Title != "scarce again" || rs[1].Remaining == nil || *rs[1].Remaining != 1 {
		t.Fatalf("after replacement, another ledger sees %+v; want coupon then scarce with 1 left (2 less the 1 redeemed)", rs)
	}
	if _, err := other.Redeem(ctx, "u", "small", "r2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("redeeming an item no longer listed: %v, want ErrNotFound", err)
	}
	red, err := other.Redeem(ctx, "u", "scarce", "r3")
	if err != nil || red.Cost != 20 || red.Balance != 70 || red.Kind != KindGift {
		t.Fatalf("redemption at the new cost: %+v, %v", red, err)
	}
	if _, err := l.Redeem(ctx, "u", "scarce", "r4"); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("third unit of a stock of 2: %v, want ErrOutOfStock", err)
	}
	bad := [][]Reward{
		{{ID: "a", Title: "a", Cost: 1, Kind: KindGift}, {ID: "a", Title: "b", Cost: 1, Kind: KindGift}},
		{{ID: "a", Title: "a", Cost: 0, Kind: KindGift}},
		{{ID: "a", Title: "a", Cost: 1, Kind: "toaster"}},
		{{ID: "a", Title: "a", Cost: 1, Kind: KindCoupon}},
	}
	for _, b := range bad {
		if err := l.SetCatalogue(ctx, b); !errors.Is(err, ErrInvalid) {
			t.Fatalf("SetCatalogue(%+v) = %v, want ErrInvalid", b, err)
		}
	}
	if rs, _ := l.Catalogue(ctx); len(rs) != 2 {
		t.Fatalf("a refused catalogue changed it: %+v", rs)
	}
}

// testConcurrentStockAndLimit: 20 concurrent redemptions (two per user, distinct request ids) of an item
// with stock 5 and a per-user limit of 1 by 10 users with points for both: exactly 5 succeed, each by a
// different user, every other is ErrOutOfStock or ErrLimitReached, and exactly 5 costs were debited.
func testConcurrentStockAndLimit(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), func(c *Config) {
		c.Catalogue = []Reward{{ID: "hot", Title: "hot", Cost: 10, Kind: KindGift, Stock: 5, PerUserLimit: 1}}
	})
	const users = 10
	for i := range users {
		mustAward(t, l, Award{Key: fmt.Sprint("seed", i), User: fmt.Sprint("u", i), Points: 100})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	refused := map[error]int{}
	for i := range users {
		for j := range 2 {
			wg.Go(func() {
				red, err := l.Redeem(ctx, fmt.Sprint("u", i), "hot", fmt.Sprint("r", j))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won[red.User]++
				case errors.Is(err, ErrOutOfStock):
					refused[ErrOutOfStock]++
				case errors.Is(err, ErrLimitReached):
					refused[ErrLimitReached]++
				default:
					t.Errorf("unexpected error %v", err)
				}
			})
		}
	}
	wg.Wait()
	if len(won) != 5 {
		t.Fatalf("winners %v, want 5 distinct users", won)
	}
	var spent int64
	for i := range users {
		u := fmt.Sprint("u", i)
		if won[u] > 1 {
			t.Fatalf("%s redeemed %d times past its limit of 1", u, won[u])
		}
		spent += 100 - mustAccount(t, l, u).Balance
	}
	if spent != 50 || refused[ErrOutOfStock]+refused[ErrLimitReached] != 15 {
		t.Fatalf("spent %d (want 50), refused %v (want 15 in all)", spent, refused)
	}
	rs, err := l.Available(ctx)
	if err != nil || *rs[0].Remaining != 0 {
		t.Fatalf("remaining %v, %v; want 0", rs, err)
	}
	// The limit is per user: a winner's second request is refused with the limit, stock or not.
	for u := range won {
		if _, err := l.Redeem(ctx, u, "hot", "again"); !errors.Is(err, ErrLimitReached) {
			t.Fatalf("%s again: %v, want ErrLimitReached", u, err)
		}
		break
	}
}

// testCodeAndClaim: a coupon's redemption stores its code and amounts, a replay returns the first code
// whatever it is given; a gift's has a derived claim id that Fulfil marks once.
func testCodeAndClaim(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) {
		c.Catalogue = []Reward{
			{ID: "cpn", Title: "¥5 off", Cost: 10, Kind: KindCoupon, DiscountFen: 500, MinSpendFen: 2000},
			{ID: "gift", Title: "mug", Cost: 10, Kind: KindGift},
		}
	})
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	red, err := l.RedeemItem(ctx, RedeemRequest{User: "u", RewardID: "cpn", RequestID: "r1", Code: "CODE-ONE"})
	if err != nil || red.Code != "CODE-ONE" || red.DiscountFen != 500 || red.MinSpendFen != 2000 || red.Kind != KindCoupon || red.ClaimID != "" {
		t.Fatalf("coupon redemption %+v, %v", red, err)
	}
	again, err := l.RedeemItem(ctx, RedeemRequest{User: "u", RewardID: "cpn", RequestID: "r1", Code: "CODE-TWO"})
	if err != nil || !again.Replayed || again.Code != "CODE-ONE" || again.Balance != 90 {
		t.Fatalf("replay %+v, %v; want the first code and balance 90", again, err)
	}
	g, err := l.RedeemItem(ctx, RedeemRequest{User: "u", RewardID: "gift", RequestID: "r2", Code: "IGNORED"})
	if err != nil || g.ClaimID != ClaimID("u", "r2") || g.Code != "" || g.FulfilledAt != nil {
		t.Fatalf("gift redemption %+v, %v", g, err)
	}
	clock.Advance(time.Hour)
	f1, err := l.Fulfil(ctx, g.ClaimID)
	if err != nil || f1.FulfilledAt == nil || !f1.FulfilledAt.Equal(t0.Add(time.Hour)) || f1.RewardID != "gift" || f1.User != "u" {
		t.Fatalf("fulfil %+v, %v", f1, err)
	}
	clock.Advance(time.Hour)
	f2, err := l.Fulfil(ctx, g.ClaimID)
	if err != nil || !f2.FulfilledAt.Equal(*f1.FulfilledAt) {
		t.Fatalf("second fulfil %+v, %v; want the first time kept", f2, err)
	}
	if r, _ := l.RedeemItem(ctx, RedeemRequest{User: "u", RewardID: "gift", RequestID: "r2"}); r.FulfilledAt == nil {
		t.Fatalf("a replay after fulfilment: %+v, want it fulfilled", r)
	}
	if _, err := l.Fulfil(ctx, "gift-nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown claim: %v, want ErrNotFound", err)
	}
}

// testIdempotencyWindow: an award's key is remembered until the end of the month after its month (and a day),
// and an award dated before last month is refused, so an award retried with its original time is paid once
// however late the retry comes; a key reused after its window is a new award.
func testIdempotencyWindow(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0) // 2026-03-10
	l := newTestLedger(t, newStore(t), clock, nil)
	a := Award{Key: "poll:p1:u", User: "u", Stream: "s", Source: "poll", Points: 5, Participation: true, At: t0}
	mustAward(t, l, a)
	clock.Set(time.Date(2026, time.April, 30, 23, 59, 0, 0, time.UTC)) // the last minute of the month after
	if res := mustAward(t, l, a); res.Applied {
		t.Fatalf("retried at the end of the month after: %+v, want a replay", res)
	}
	clock.Set(time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC))
	if _, err := l.Award(ctx, a); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retried once March is before last month: %v, want ErrInvalid", err)
	}
	lastMonth := Award{Key: "poll:p2:u", User: "u", Points: 5, Participation: true, At: time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)}
	if res := mustAward(t, l, lastMonth); !res.Applied {
		t.Fatalf("an award of last month: %+v, want applied", res)
	}
	if _, err := l.Award(ctx, Award{Key: "poll:p3:u", User: "u", Points: 5, At: lastMonth.At.Add(-time.Millisecond)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an award of the last millisecond before last month: %v, want ErrInvalid", err)
	}
	if acct := mustAccount(t, l, "u"); acct.Balance != 10 {
		t.Fatalf("balance %d, want 10: each award paid once", acct.Balance)
	}
	clock.Set(time.Date(2026, time.May, 2, 0, 0, 0, 0, time.UTC)) // the record's day of slack is over
	reused := a
	reused.At = time.Time{}
	if res := mustAward(t, l, reused); !res.Applied {
		t.Fatalf("the key reused in May: %+v, want a new award (its record is gone)", res)
	}
}

// testOrdersKept: an order is refundable, and its id a replay, for ExpiryMonths (12) after it was recorded:
// as long as its points may be in the balance. After that a refund finds nothing, and the id is a new order.
func testOrdersKept(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	order := func(key string) Award {
		return Award{Key: key, User: "u", Stream: "s", Source: "purchase", Points: 100, Pending: true, Fingerprint: "u/" + key}
	}
	for _, k := range []string{"order:1", "order:2"} {
		mustAward(t, l, order(k))
	}
	yearOn := t0.AddDate(1, 0, 0)
	clock.Set(yearOn.Add(-time.Millisecond))
	if res, err := l.Refund(ctx, "order:1", time.Time{}); err != nil || res.Reversed != 100 {
		t.Fatalf("refund a millisecond before 12 months: %+v, %v; want 100 reversed", res, err)
	}
	if res := mustAward(t, l, order("order:2")); res.Applied {
		t.Fatalf("order posted again within 12 months: %+v, want a replay", res)
	}
	clock.Set(yearOn)
	if _, err := l.Refund(ctx, "order:2", time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refund 12 months on: %v, want ErrNotFound", err)
	}
	clock.Set(yearOn.Add(24 * time.Hour))
	if res := mustAward(t, l, order("order:2")); !res.Applied {
		t.Fatalf("the id posted 12 months and a day on: %+v, want a new order", res)
	}
	if _, err := l.Refund(ctx, "order:2", time.Time{}); err != nil {
		t.Fatalf("refund of the new order: %v", err)
	}
}

func testRemaining(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	left := func() map[string]*int64 {
		t.Helper()
		rs, err := l.Available(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*int64{}
		for _, r := range rs {
			m[r.ID] = r.Remaining
		}
		return m
	}
	if m := left(); m["scarce"] == nil || *m["scarce"] != 3 || m["small"] != nil {
		t.Fatalf("before any redemption: scarce %v, small %v; want 3 and unlimited (nil)", m["scarce"], m["small"])
	}
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 100})
	if _, err := l.Redeem(ctx, "u", "scarce", "r1"); err != nil {
		t.Fatal(err)
	}
	if m := left(); *m["scarce"] != 2 {
		t.Fatalf("after one redemption: scarce %d, want 2", *m["scarce"])
	}
}

// t0 is the suite's starting instant: mid-month, so month arithmetic is unambiguous.
var t0 = time.Date(2026, time.March, 10, 12, 0, 0, 0, time.UTC)

var testCatalogue = []Reward{
	{ID: "small", Title: "small", Cost: 30, Stock: 0},
	{ID: "mid", Title: "mid", Cost: 500, Stock: 0},
	{ID: "scarce", Title: "scarce", Cost: 10, Stock: 3},
}

// newTestLedger returns a ledger on clock whose months are UTC months, as the suite's instants are written
// (Location UTC keeps the behaviour from before the business calendar); mutate may set another Location.
func newTestLedger(t *testing.T, s Store, clock *testenv.Clock, mutate func(*Config)) *Ledger {
	t.Helper()
	cfg := Config{Now: clock.Now, Catalogue: testCatalogue, Location: time.UTC}
	if mutate != nil {
		mutate(&cfg)
	}
	l, err := NewLedger(s, cfg)
	if err != nil {
		t.Fatalf("NewLedger: %v", err)
	}
	return l
}

func mustAward(t *testing.T, l *Ledger, a Award) AwardResult {
	t.Helper()
	res, err := l.Award(context.Background(), a)
	if err != nil {
		t.Fatalf("Award(%+v): %v", a, err)
	}
	return res
}

func mustAccount(t *testing.T, l *Ledger, user string) Account {
	t.Helper()
	acct, err := l.Account(context.Background(), user)
	if err != nil {
		t.Fatalf("Account(%s): %v", user, err)
	}
	return acct
}

func testMonthlyCap(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name          string
		earned        int64 // granted earlier this month
		points        int64
		wantGranted   int64
		wantCapped    int64
		wantThisMonth int64
	}{
		{"well under", 0, 10, 10, 0, 10},
		{"995 + 10 at the boundary", 995, 10, 5, 5, 1000},
		{"lands exactly on the cap", 990, 10, 10, 0, 1000},
		{"already at the cap", 1000, 10, 0, 10, 1000},
		{"one award above the cap", 0, 1500, 1000, 500, 1000},
		{"one below", 999, 1, 1, 0, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testenv.NewClock(t0)
			l := newTestLedger(t, newStore(t), clock, nil)
			if tt.earned > 0 {
				mustAward(t, l, Award{Key: "seed", User: "u", Source: "purchase", Points: tt.earned})
			}
			got := mustAward(t, l, Award{Key: "k", User: "u", Stream: "s", Source: "quiz", Points: tt.points, Participation: true})
			if got.Granted != tt.wantGranted || got.Capped != tt.wantCapped || !got.Applied {
				t.Fatalf("got granted %d capped %d applied %v, want %d %d true", got.Granted, got.Capped, got.Applied, tt.wantGranted, tt.wantCapped)
			}
			acct := mustAccount(t, l, "u")
			if acct.EarnedThisMonth != tt.wantThisMonth || acct.Balance != tt.wantThisMonth || acct.Capped != tt.wantCapped {
				t.Fatalf("account %+v, want earned/balance %d capped %d", acct, tt.wantThisMonth, tt.wantCapped)
			}
			if acct.MonthlyCap != 1000 {
				t.Fatalf("MonthlyCap = %d, want 1000", acct.MonthlyCap)
			}
		})
	}
}

func testCapResetsMonthly(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(time.Date(2026, time.March, 31, 23, 59, 0, 0, time.UTC))
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100 })
	if got := mustAward(t, l, Award{Key: "a", User: "u", Points: 150}); got.Granted != 100 || got.Capped != 50 {
		t.Fatalf("March award: %+v", got)
	}
	clock.Set(time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC))
	if got := mustAward(t, l, Award{Key: "b", User: "u", Points: 150}); got.Granted != 100 || got.Capped != 50 || got.Balance != 200 {
		t.Fatalf("April award: %+v", got)
	}
	// A late award dated in March counts against March's cap, which is full.
	late := time.Date(2026, time.March, 31, 23, 0, 0, 0, time.UTC)
	if got := mustAward(t, l, Award{Key: "c", User: "u", Points: 5, At: late}); got.Granted != 0 || got.Capped != 5 {
		t.Fatalf("late March award: %+v", got)
	}
	if acct := mustAccount(t, l, "u"); acct.EarnedThisMonth != 100 || acct.Earned12Months != 200 {
		t.Fatalf("account %+v", acct)
	}
}

// beijing is the default business calendar (Config.Location nil).
var beijing = DefaultLocation()

// testMonthsInBeijingTime: with the default Location (Asia/Shanghai) a month is a Beijing calendar month for
// the monthly cap, in both stores: 2026-03-31 23:59 +08:00 counts toward March's cap and 2026-04-01 00:01
// +08:00 (2026-03-31 16:01 UTC) toward April's, so a user at March's cap earns again at 00:01 Beijing time.
func testMonthsInBeijingTime(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, time.March, 31, 23, 59, 0, 0, beijing))
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100; c.Location = nil })
	if got := mustAward(t, l, Award{Key: "a", User: "u", Points: 90}); got.Granted != 90 {
		t.Fatalf("2026-03-31 23:59 Beijing: %+v, want 90 granted", got)
	}
	if got := mustAward(t, l, Award{Key: "b", User: "u", Points: 20}); got.Granted != 10 || got.Capped != 10 {
		t.Fatalf("2026-03-31 23:59 Beijing: %+v, want 10 granted, 10 capped (March's cap)", got)
	}
	if acct := mustAccount(t, l, "u"); acct.EarnedThisMonth != 100 {
		t.Fatalf("March: earned this month %d, want 100", acct.EarnedThisMonth)
	}

	clock.Set(time.Date(2026, time.April, 1, 0, 1, 0, 0, beijing)) // 2026-03-31 16:01 UTC
	if got := mustAward(t, l, Award{Key: "c", User: "u", Points: 30}); got.Granted != 30 || got.Capped != 0 || got.Balance != 130 {
		t.Fatalf("2026-04-01 00:01 Beijing: %+v, want 30 granted toward April's cap", got)
	}
	// An award dated 23:59 on March 31, Beijing time, still counts toward March's (full) cap.
	late := time.Date(2026, time.March, 31, 23, 59, 0, 0, beijing)
	if got := mustAward(t, l, Award{Key: "d", User: "u", Points: 5, At: late}); got.Granted != 0 || got.Capped != 5 {
		t.Fatalf("late award of 23:59 March 31 Beijing: %+v, want capped by March's cap", got)
	}
	acct := mustAccount(t, l, "u")
	if acct.EarnedThisMonth != 30 || acct.Earned12Months != 130 {
		t.Fatalf("April: earned this month %d, 12 months %d; want 30, 130", acct.EarnedThisMonth, acct.Earned12Months)
	}
	// A year on, the key's record is long gone; an award dated before last month (Beijing) is refused.
	if _, err := l.Award(ctx, Award{Key: "e", User: "u", Points: 5, At: time.Date(2026, time.February, 28, 23, 59, 0, 0, beijing)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("award of February (Beijing) in April: %v, want ErrInvalid", err)
	}
}

// testMonthsInUTC: a ledger with Location UTC keeps the months of before: 2026-04-01 00:01 Beijing time is
// still March 31 in UTC, so it counts toward March's cap, which resets at 08:00 Beijing time.
func testMonthsInUTC(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(time.Date(2026, time.March, 31, 23, 59, 0, 0, beijing))
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100 })
	if got := mustAward(t, l, Award{Key: "a", User: "u", Points: 100}); got.Granted != 100 {
		t.Fatalf("March award: %+v", got)
	}
	clock.Set(time.Date(2026, time.April, 1, 0, 1, 0, 0, beijing))
	if got := mustAward(t, l, Award{Key: "b", User: "u", Points: 30}); got.Granted != 0 || got.Capped != 30 {
		t.Fatalf("00:01 Beijing = 16:01 UTC March 31: %+v, want capped by March's cap", got)
	}
	clock.Set(time.Date(2026, time.April, 1, 8, 0, 0, 0, beijing)) // 00:00 UTC
	if got := mustAward(t, l, Award{Key: "c", User: "u", Points: 30}); got.Granted != 30 {
		t.Fatalf("00:00 UTC April 1: %+v, want 30 granted toward April's cap", got)
	}
}

// testTierWindowInBeijingTime: the trailing twelve months of the tiers are Beijing months: points earned at
// 00:30 on April 1, Beijing time (March 31 in UTC), are April's, counted until March of the next year ends in
// Beijing, and the downgrade warning names midnight of April 1 in Beijing.
func testTierWindowInBeijingTime(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(time.Date(2026, time.April, 1, 0, 30, 0, 0, beijing))
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100000; c.Location = nil })
	mustAward(t, l, Award{Key: "big", User: "u", Points: 3000})
	dropAt := time.Date(2027, time.April, 1, 0, 0, 0, 0, beijing)
	steps := []struct {
		at           time.Time
		wantTier     Tier
		wantEarned12 int64
		wantWarn     bool
	}{
		{clock.Now(), TierSilver, 3000, false},
		{time.Date(2027, time.March, 31, 23, 59, 0, 0, beijing), TierSilver, 3000, true},
		{dropAt, TierBronze, 0, false},
	}
	for _, s := range steps {
		clock.Set(s.at)
		acct := mustAccount(t, l, "u")
		if acct.Tier != s.wantTier || acct.Earned12Months != s.wantEarned12 || (acct.Downgrade != nil) != s.wantWarn {
			t.Fatalf("at %s: tier %s earned12 %d downgrade %+v; want %s %d warn %v", s.at, acct.Tier, acct.Earned12Months, acct.Downgrade, s.wantTier, s.wantEarned12, s.wantWarn)
		}
		if s.wantWarn && !acct.Downgrade.At.Equal(dropAt) {
			t.Fatalf("downgrade at %s, want %s", acct.Downgrade.At, dropAt)
		}
	}
}

// seedEarned grants points in the month before t0 without a multiplier, so tests start at a tier.
func seedEarned(t *testing.T, l *Ledger, user string, points int64) {
	t.Helper()
	if points == 0 {
		return
	}
	got := mustAward(t, l, Award{Key: "seed:" + user, User: user, Points: points, At: t0.AddDate(0, -1, 0)})
	if got.Granted != points {
		t.Fatalf("seed granted %d, want %d", got.Granted, points)
	}
}

func testTierMultipliers(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name          string
		earned        int64
		points        int64
		participation bool
		wantGranted   int64
		wantTier      Tier
		wantPrev      Tier
	}{
		{"bronze ×1.0", 0, 10, true, 10, TierBronze, TierBronze},
		{"just below silver", 2999, 10, true, 10, TierSilver, TierBronze},
		{"silver ×1.1", 3000, 10, true, 11, TierSilver, TierSilver},
		{"silver rounds down 5.5", 3000, 5, true, 5, TierSilver, TierSilver},
		{"silver 100", 3000, 100, true, 110, TierSilver, TierSilver},
		{"gold ×1.25 rounds down 12.5", 8000, 10, true, 12, TierGold, TierGold},
		{"gold 100", 8000, 100, true, 125, TierGold, TierGold},
		{"purchase not multiplied", 8000, 10, false, 10, TierGold, TierGold},
		{"multiplier from the tier before the award", 7995, 10, true, 11, TierGold, TierSilver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLedger(t, newStore(t), testenv.NewClock(t0), func(c *Config) { c.MonthlyCap = 100000 })
			seedEarned(t, l, "u", tt.earned)
			got := mustAward(t, l, Award{Key: "k", User: "u", Points: tt.points, Participation: tt.participation})
			if got.Granted != tt.wantGranted || got.Tier != tt.wantTier {
				t.Fatalf("got %+v, want granted %d tier %s", got, tt.wantGranted, tt.wantTier)
			}
			// PreviousTier is the tier recorded by the previous award (the seed), or bronze.
			if got.PreviousTier != tt.wantPrev || got.TierChanged != (tt.wantTier != tt.wantPrev) {
				t.Fatalf("got previous %s changed %v, want %s", got.PreviousTier, got.TierChanged, tt.wantPrev)
			}
		})
	}
}

func testTierThresholds(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		earned int64
		want   Tier
	}{
		{0, TierBronze}, {1, TierBronze}, {2999, TierBronze}, {3000, TierSilver},
		{7999, TierSilver}, {8000, TierGold}, {50000, TierGold},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.earned), func(t *testing.T) {
			l := newTestLedger(t, newStore(t), testenv.NewClock(t0), func(c *Config) { c.MonthlyCap = 100000 })
			seedEarned(t, l, "u", tt.earned)
			acct := mustAccount(t, l, "u")
			if acct.Tier != tt.want || acct.Earned12Months != tt.earned {
				t.Fatalf("earned %d: tier %s (earned12 %d), want %s", tt.earned, acct.Tier, acct.Earned12Months, tt.want)
			}
		})
	}
}

func testTierWindow(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100000 })
	mustAward(t, l, Award{Key: "big", User: "u", Points: 3000}) // March 2026
	steps := []struct {
		at           time.Time
		wantTier     Tier
		wantWarn     bool
		wantEarned12 int64
	}{
		{t0, TierSilver, false, 3000},
		{time.Date(2027, time.February, 1, 0, 0, 0, 0, time.UTC), TierSilver, false, 3000},
		{time.Date(2027, time.February, 20, 0, 0, 0, 0, time.UTC), TierSilver, true, 3000},
		{time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC), TierBronze, false, 0},
	}
	for _, s := range steps {
		clock.Set(s.at)
		acct := mustAccount(t, l, "u")
		if acct.Tier != s.wantTier || acct.Earned12Months != s.wantEarned12 || (acct.Downgrade != nil) != s.wantWarn {
			t.Fatalf("at %s: tier %s earned12 %d downgrade %+v; want %s %d warn %v", s.at, acct.Tier, acct.Earned12Months, acct.Downgrade, s.wantTier, s.wantEarned12, s.wantWarn)
		}
		if s.wantWarn {
			want := Downgrade{From: TierSilver, To: TierBronze, At: time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC), Needed: 3000, Basis: BasisPoints}
			if *acct.Downgrade != want {
				t.Fatalf("downgrade %+v, want %+v", *acct.Downgrade, want)
			}
		}
	}
	// The drop is recorded as a tier fact when the month left the window (here: the read of March 1), so the
	// next award starts from bronze and changes nothing.
	var tiers []Fact
	for _, f := range mustFacts(t, l, "u") {
		if f.Kind == FactTier {
			tiers = append(tiers, f)
		}
	}
	want := []Fact{{Kind: FactTier, From: TierBronze, To: TierSilver, Reason: TierReasonAward, At: t0},
		{Kind: FactTier, From: TierSilver, To: TierBronze, Reason: TierReasonWindow, At: time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC)}}
	if len(tiers) != len(want) {
		t.Fatalf("tier facts %+v, want %+v", tiers, want)
	}
	for i := range want {
		got := tiers[i]
		got.Seq, got.User, got.Balance = 0, "", 0
		if got != want[i] {
			t.Fatalf("tier fact %d: %+v, want %+v", i, got, want[i])
		}
	}
	got := mustAward(t, l, Award{Key: "after", User: "u", Points: 10, Participation: true})
	if got.Tier != TierBronze || got.PreviousTier != TierBronze || got.TierChanged || got.Granted != 10 {
		t.Fatalf("award after the drop: %+v", got)
	}
}

func mustFacts(t *testing.T, l *Ledger, user string) []Fact {
	t.Helper()
	fs, err := l.Facts(context.Background(), user)
	if err != nil {
		t.Fatalf("Facts(%s): %v", user, err)
	}
	return fs
}

func testIdempotency(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	ctx := context.Background()
	a := Award{Key: "poll:p1:u", User: "u", Stream: "s", Source: "poll", Points: 5, Participation: true}
	first := mustAward(t, l, a)
	if !first.At.Equal(t0) {
		t.Fatalf("award at %v, want the clock's %v", first.At, t0)
	}
	clock.Advance(time.Hour) // a replay later keeps the original time, for events re-published with the same ids
	second := mustAward(t, l, a)
	a.Points = 50 // a replay with other content is still the same key
	third := mustAward(t, l, a)
	if !first.Applied || second.Applied || third.Applied {
		t.Fatalf("applied flags %v %v %v, want true false false", first.Applied, second.Applied, third.Applied)
	}
	second.Applied, third.Applied = true, true
	if second != first || third != first {
		t.Fatalf("replays %+v %+v differ from the original %+v", second, third, first)
	}
	es, err := l.Entries(ctx, "u")
	if err != nil || len(es) != 1 {
		t.Fatalf("entries %v %v, want one", es, err)
	}
	if acct := mustAccount(t, l, "u"); acct.Balance != 5 {
		t.Fatalf("balance %d, want 5", acct.Balance)
	}
	invalid := []Award{
		{User: "u", Points: 1},
		{Key: "k", Points: 1},
		{Key: "k", User: "u", Points: 0},
		{Key: "k", User: "u", Points: -3},
		{Key: "k", User: "u", Points: 1, At: t0.AddDate(-1, -1, 0)},
	}
	for _, a := range invalid {
		if _, err := l.Award(ctx, a); !errors.Is(err, ErrInvalid) {
			t.Errorf("Award(%+v) = %v, want ErrInvalid", a, err)
		}
	}
}

// testFingerprintConflict: an order id is idempotent whatever is posted under it, so a replay with other
// content (another amount, another user) is a conflict, not a replay that hides it; an order worth 0 points
// is recorded too, so that a later post of its id with another amount also conflicts.
func testFingerprintConflict(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	order := Award{Key: "order:1", User: "u", Stream: "s", Source: "purchase", Points: 123, Pending: true, Fingerprint: "u/12345"}
	first := mustAward(t, l, order)
	if again := mustAward(t, l, order); !first.Applied || again.Applied || again.Granted != 123 {
		t.Fatalf("order %+v, replay %+v; want applied, then a replay of 123", first, again)
	}
	for _, other := range []Award{
		{Key: "order:1", User: "u", Stream: "s", Source: "purchase", Points: 9999, Pending: true, Fingerprint: "u/999999"},
		{Key: "order:1", User: "v", Stream: "s", Source: "purchase", Points: 123, Pending: true, Fingerprint: "v/12345"},
	} {
		if res, err := l.Award(ctx, other); !errors.Is(err, ErrConflict) {
			t.Fatalf("Award(%+v) = %+v, %v; want ErrConflict", other, res, err)
		}
	}
	if acct := mustAccount(t, l, "u"); acct.Pending != 123 || len(acct.Recent) != 1 {
		t.Fatalf("account after conflicts %+v, want only the first order", acct)
	}
	if acct := mustAccount(t, l, "v"); acct.Pending != 0 || len(acct.Recent) != 0 {
		t.Fatalf("other user's account after a conflict %+v, want untouched", acct)
	}

	// Under one yuan: 0 points, but the id is taken.
	small := Award{Key: "order:2", User: "u", Stream: "s", Source: "purchase", Points: 0, Pending: true, Fingerprint: "u/50"}
	if res := mustAward(t, l, small); !res.Applied || res.Granted != 0 {
		t.Fatalf("0-point order %+v, want applied with nothing granted", res)
	}
	if res := mustAward(t, l, small); res.Applied {
		t.Fatalf("0-point order replayed %+v, want a replay", res)
	}
	big := small
	big.Points, big.Fingerprint = 10000, "u/1000000"
	if _, err := l.Award(ctx, big); !errors.Is(err, ErrConflict) {
		t.Fatalf("another amount under a 0-point order's id: %v, want ErrConflict", err)
	}
	if res, err := l.Refund(ctx, "order:2", time.Time{}); err != nil || res.Cancelled != 0 || res.User != "u" {
		t.Fatalf("refund of a 0-point order = %+v, %v; want nothing cancelled", res, err)
	}
	if acct := mustAccount(t, l, "u"); acct.Pending != 123 || acct.Balance != 0 {
		t.Fatalf("account %+v, want 123 pending", acct)
	}

	// A key first recorded without a fingerprint accepts any; an award without one is a plain replay.
	legacy := Award{Key: "order:3", User: "u", Source: "purchase", Points: 7, Pending: true}
	mustAward(t, l, legacy)
	legacy.Fingerprint = "u/700"
	if res := mustAward(t, l, legacy); res.Applied {
		t.Fatalf("fingerprinted replay of an unfingerprinted key %+v, want a replay", res)
	}
	order.Fingerprint = ""
	if res := mustAward(t, l, order); res.Applied || res.Granted != 123 {
		t.Fatalf("unfingerprinted replay %+v, want the original result", res)
	}
}

func testPendingSettleRefund(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	purchase := func(key string, points int64) Award {
		return Award{Key: key, User: "u", Stream: "s", Source: "purchase", Points: points, Pending: true}
	}
	tests := []struct {
		name string
		// after the purchase of 600 points at t0: wait, optionally redeem "mid" (500), then refund at refundAt
		wait          time.Duration
		redeem        bool
		refundAt      time.Duration // after t0
		want          RefundResult
		wantBalance   int64
		wantPending   int64
		wantEarned    int64
		wantShortfall int64
	}{
		{"refund inside the window cancels", time.Hour, false, time.Hour,
			RefundResult{Cancelled: 600}, 0, 0, 0, 0},
		{"refund inside the window reported late still cancels", 8 * 24 * time.Hour, false, 6 * 24 * time.Hour,
			RefundResult{Cancelled: 600}, 0, 0, 0, 0},
		{"refund after settling reverses", 8 * 24 * time.Hour, false, 8 * 24 * time.Hour,
			RefundResult{Reversed: 600}, 0, 0, 0, 0},
		{"refund at the window's end reverses", 7 * 24 * time.Hour, false, 7 * 24 * time.Hour,
			RefundResult{Reversed: 600}, 0, 0, 0, 0},
		{"reversal never goes below zero", 8 * 24 * time.Hour, true, 9 * 24 * time.Hour,
			RefundResult{Reversed: 100, Shortfall: 500}, 0, 0, 0, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testenv.NewClock(t0)
			l := newTestLedger(t, newStore(t), clock, nil)
			got := mustAward(t, l, purchase("order:1", 600))
			if got.Granted != 600 || got.Balance != 0 {
				t.Fatalf("purchase: %+v", got)
			}
			if acct := mustAccount(t, l, "u"); acct.Pending != 600 || acct.Balance != 0 || acct.EarnedThisMonth != 600 {
				t.Fatalf("pending account %+v", acct)
			}
			clock.Advance(tt.wait)
			if tt.redeem {
				if _, err := l.Redeem(ctx, "u", "mid", "r1"); err != nil {
					t.Fatalf("Redeem: %v", err)
				}
			}
			res, err := l.Refund(ctx, "order:1", t0.Add(tt.refundAt))
			if err != nil {
				t.Fatalf("Refund: %v", err)
			}
			tt.want.OrderKey, tt.want.User, tt.want.Balance, tt.want.Stream, tt.want.Full = "order:1", "u", tt.wantBalance, "s", true
			tt.want.At = t0.Add(min(tt.refundAt, tt.wait)) // a refund time in the future counts as now
			if res != tt.want {
				t.Fatalf("refund %+v, want %+v", res, tt.want)
			}
			acct := mustAccount(t, l, "u")
			if acct.Balance != tt.wantBalance || acct.Pending != tt.wantPending || acct.EarnedThisMonth != tt.wantEarned || acct.Shortfall != tt.wantShortfall {
				t.Fatalf("account after refund %+v", acct)
			}
			board, err := l.Leaderboard(ctx, "s", 10)
			if err != nil || len(board) != 0 {
				t.Fatalf("leaderboard after refund %v %v, want empty", board, err)
			}
			// A retried refund (say the first answer was lost) changes nothing and answers as the first did.
			again, err := l.Refund(ctx, "order:1", time.Time{})
			if err != nil || !again.Replayed || again.Cancelled != res.Cancelled || again.Reversed != res.Reversed || again.At != res.At {
				t.Fatalf("second refund: %+v %v, want the first result replayed", again, err)
			}
			if after := mustAccount(t, l, "u"); after.Balance != acct.Balance || after.Pending != acct.Pending || after.Shortfall != acct.Shortfall {
				t.Fatalf("a replayed refund changed the account: %+v → %+v", acct, after)
			}
		})
	}

	t.Run("settles lazily after the window", func(t *testing.T) {
		clock := testenv.NewClock(t0)
		l := newTestLedger(t, newStore(t), clock, nil)
		mustAward(t, l, purchase("order:1", 123))
		clock.Set(t0.Add(7*24*time.Hour - time.Millisecond))
		if acct := mustAccount(t, l, "u"); acct.Pending != 123 || acct.Balance != 0 {
			t.Fatalf("just before the window ends: %+v", acct)
		}
		clock.Set(t0.Add(7 * 24 * time.Hour))
		acct := mustAccount(t, l, "u")
		if acct.Pending != 0 || acct.Balance != 123 {
			t.Fatalf("at the window's end: %+v", acct)
		}
		last := acct.Recent[len(acct.Recent)-1]
		if last.Kind != EntrySettle || last.Points != 123 || last.Balance != 123 || last.Key != "order:1" {
			t.Fatalf("settle entry %+v", last)
		}
	})

	t.Run("errors", func(t *testing.T) {
		l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
		mustAward(t, l, Award{Key: "watch:1", User: "u", Points: 3, Participation: true})
		tests := []struct {
			key  string
			want error
		}{
			{"missing", ErrNotFound},
			{"watch:1", ErrInvalid},
			{"", ErrInvalid},
		}
		for _, tt := range tests {
			if _, err := l.Refund(ctx, tt.key, time.Time{}); !errors.Is(err, tt.want) {
				t.Errorf("Refund(%q) = %v, want %v", tt.key, err, tt.want)
			}
		}
	})
}

func testExpiry(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	mustAward(t, l, Award{Key: "a", User: "u", Points: 100})                         // 2026-03-10
	mustAward(t, l, Award{Key: "b", User: "u", Points: 50, At: t0.AddDate(0, 0, 0)}) // same instant, later key
	clock.Set(t0.AddDate(0, 1, 0))
	mustAward(t, l, Award{Key: "c", User: "u", Points: 40}) // 2026-04-10
	// Spending takes the oldest points first: 30 from "a".
	if _, err := l.Redeem(ctx, "u", "small", "r1"); err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	steps := []struct {
		at          time.Time
		wantBalance int64
		wantExpired int64
	}{
		{t0.AddDate(1, 0, 0).Add(-time.Millisecond), 160, 0},
		{t0.AddDate(1, 0, 0), 40, 120}, // a's remaining 70 and b's 50
		{t0.AddDate(1, 1, 0).Add(-time.Millisecond), 40, 120},
		{t0.AddDate(1, 1, 0), 0, 160},
	}
	for _, s := range steps {
		clock.Set(s.at)
		acct := mustAccount(t, l, "u")
		if acct.Balance != s.wantBalance || acct.Expired != s.wantExpired {
			t.Fatalf("at %s: balance %d expired %d, want %d %d", s.at, acct.Balance, acct.Expired, s.wantBalance, s.wantExpired)
		}
	}
	es, err := l.Entries(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	var expired []int64
	for _, e := range es {
		if e.Kind == EntryExpire {
			expired = append(expired, e.Points)
		}
	}
	if fmt.Sprint(expired) != "[-120 -40]" {
		t.Fatalf("expire entries %v, want [-120 -40]", expired)
	}
}

func testRedemption(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		mustAward(t, l, Award{Key: "seed:" + u, User: u, Points: 40})
	}
	tests := []struct {
		name        string
		user        string
		reward      string
		request     string
		want        error
		wantBalance int64
		wantReplay  bool
	}{
		{"debits", "u1", "small", "r1", nil, 10, false},
		{"replay returns the original", "u1", "small", "r1", nil, 10, true},
		{"replay with another reward", "u1", "scarce", "r1", ErrDuplicate, 10, false},
		{"never below zero", "u1", "small", "r2", ErrInsufficientPoints, 10, false},
		{"unknown reward", "u1", "nope", "r3", ErrNotFound, 10, false},
		{"empty request id", "u1", "small", "", ErrInvalid, 10, false},
		{"stock 1 of 3", "u1", "scarce", "r4", nil, 0, false},
		{"stock 2 of 3", "u2", "scarce", "r1", nil, 30, false},
		{"stock 3 of 3", "u3", "scarce", "r1", nil, 30, false},
		{"out of stock", "u4", "scarce", "r1", ErrOutOfStock, 40, false},
		{"replay after stock ran out", "u3", "scarce", "r1", nil, 30, true},
		{"request ids are per user", "u4", "small", "r1", nil, 10, false},
	}
	for _, tt := range tests {
		red, err := l.Redeem(ctx, tt.user, tt.reward, tt.request)
		if !errors.Is(err, tt.want) {
			t.Fatalf("%s: err %v, want %v", tt.name, err, tt.want)
		}
		if err == nil && (red.Balance != tt.wantBalance || red.Replayed != tt.wantReplay || red.RewardID != tt.reward || red.User != tt.user || red.ID != tt.request || !red.At.Equal(t0)) {
			t.Fatalf("%s: redemption %+v, want balance %d replayed %v", tt.name, red, tt.wantBalance, tt.wantReplay)
		}
		if acct := mustAccount(t, l, tt.user); acct.Balance != tt.wantBalance {
			t.Fatalf("%s: balance %d, want %d", tt.name, acct.Balance, tt.wantBalance)
		}
	}
}

func testLeaderboard(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	awards := []struct {
		user, stream string
		points       int64
	}{
		{"ann", "s1", 30}, {"bob", "s1", 50}, {"cat", "s1", 30}, {"dan", "s1", 10},
		{"ann", "s1", 25}, {"eve", "s2", 99}, {"fay", "", 500},
	}
	for i, a := range awards {
		mustAward(t, l, Award{Key: fmt.Sprint("k", i), User: a.user, Stream: a.stream, Points: a.points, Participation: true})
	}
	// Purchase points never rank: a board by them would reveal what users spend. Neither does a refund of one.
	mustAward(t, l, Award{Key: "order:big", User: "zoe", Stream: "s1", Source: "purchase", Points: 900, Pending: true})
	mustAward(t, l, Award{Key: "order:ann", User: "ann", Stream: "s1", Source: "purchase", Points: 40, Pending: true})
	if _, err := l.Refund(ctx, "order:ann", time.Time{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stream string
		n      int
		want   []Standing
	}{
		{"s1", 10, []Standing{{"ann", 55, 1}, {"bob", 50, 2}, {"cat", 30, 3}, {"dan", 10, 4}}},
		{"s1", 2, []Standing{{"ann", 55, 1}, {"bob", 50, 2}}},
		{"s2", 10, []Standing{{"eve", 99, 1}}},
		{"none", 10, []Standing{}},
	}
	for _, tt := range tests {
		got, err := l.Leaderboard(ctx, tt.stream, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Leaderboard(%s, %d) = %v, want %v", tt.stream, tt.n, got, tt.want)
		}
	}
	// Ties share a rank and the cut is by user id.
	mustAward(t, l, Award{Key: "tie", User: "cat", Stream: "s1", Points: 20, Participation: true})
	got, err := l.Leaderboard(ctx, "s1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Standing{{"ann", 55, 1}, {"bob", 50, 2}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with a tie at the cut: %v, want %v", got, want)
	}
	got, _ = l.Leaderboard(ctx, "s1", 3)
	if want := []Standing{{"ann", 55, 1}, {"bob", 50, 2}, {"cat", 50, 2}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with a tie: %v, want %v", got, want)
	}
}

func testEntries(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100 })
	mustAward(t, l, Award{Key: "w", User: "u", Stream: "s", Source: "watch", Points: 60, Participation: true})
	mustAward(t, l, Award{Key: "o", User: "u", Stream: "s", Source: "purchase", Points: 30, Pending: true})
	mustAward(t, l, Award{Key: "q", User: "u", Stream: "s", Source: "quiz", Points: 25, Participation: true})
	if _, err := l.Redeem(ctx, "u", "small", "r"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(25 * 24 * time.Hour) // April: a fresh cap; the purchase settles on the next call
	for i := range 12 {
		mustAward(t, l, Award{Key: fmt.Sprint("late", i), User: "u", Source: "comment", Points: 1})
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	want := []Entry{
		{At: t0, Kind: EntryAward, Points: 60, Balance: 60, Key: "w", Stream: "s", Source: "watch"},
		{At: t0, Kind: EntryPending, Points: 30, Balance: 60, Key: "o", Stream: "s", Source: "purchase"},
		{At: t0, Kind: EntryAward, Points: 10, Balance: 70, Key: "q", Stream: "s", Source: "quiz"},
		{At: t0, Kind: EntryCapped, Points: 15, Balance: 70, Key: "q", Stream: "s", Source: "quiz"},
		{At: t0, Kind: EntryRedeem, Points: -30, Balance: 40, Key: "r", Source: "small"},
		{At: at(25 * 24 * time.Hour), Kind: EntrySettle, Points: 30, Balance: 70, Key: "o", Stream: "s", Source: "purchase"},
	}
	es, err := l.Entries(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(want)+12 {
		t.Fatalf("%d entries, want %d", len(es), len(want)+12)
	}
	for i, w := range want {
		if es[i] != w && !(es[i].At.Equal(w.At) && withoutAt(es[i]) == withoutAt(w)) {
			t.Errorf("entry %d = %+v, want %+v", i, es[i], w)
		}
	}
	acct := mustAccount(t, l, "u")
	if len(acct.Recent) != RecentEntries || acct.Recent[RecentEntries-1] != es[len(es)-1] {
		t.Fatalf("recent %v", acct.Recent)
	}
	if acct.Balance != 82 || acct.Capped != 15 {
		t.Fatalf("account %+v", acct)
	}
}

func withoutAt(e Entry) Entry { e.At = time.Time{}; return e }

func testConcurrentSameKey(t *testing.T, newStore func(t *testing.T) Store) {
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	const n = 64
	var wg sync.WaitGroup
	applied := make(chan AwardResult, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := l.Award(context.Background(), Award{Key: "same", User: "u", Stream: "s", Points: 7, Participation: true})
			if err != nil {
				errs <- err
				return
			}
			if res.Applied {
				applied <- res
			}
		})
	}
	wg.Wait()
	close(applied)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(applied) != 1 {
		t.Fatalf("%d awards applied, want exactly 1", len(applied))
	}
	if acct := mustAccount(t, l, "u"); acct.Balance != 7 || len(acct.Recent) != 1 {
		t.Fatalf("account %+v", acct)
	}
}

func testConcurrentNearCap(t *testing.T, newStore func(t *testing.T) Store) {
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	mustAward(t, l, Award{Key: "seed", User: "u", Points: 900})
	const n, each = 64, 20
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		granted, capts int64
		failures       []error
	)
	for i := range n {
		wg.Go(func() {
			res, err := l.Award(context.Background(), Award{Key: fmt.Sprint("k", i), User: "u", Stream: "s", Points: each})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				return
			}
			granted += res.Granted
			capts += res.Capped
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(failures[0])
	}
	if granted != 100 || capts != n*each-100 {
		t.Fatalf("granted %d capped %d, want 100 and %d", granted, capts, n*each-100)
	}
	acct := mustAccount(t, l, "u")
	if acct.Balance != 1000 || acct.EarnedThisMonth != 1000 || acct.Capped != n*each-100 {
		t.Fatalf("account %+v", acct)
	}
}

func testConcurrentRedeem(t *testing.T, newStore func(t *testing.T) Store) {
	l := newTestLedger(t, newStore(t), testenv.NewClock(t0), nil)
	const users = 12
	for i := range users {
		mustAward(t, l, Award{Key: fmt.Sprint("seed", i), User: fmt.Sprint("u", i), Points: 40})
	}
	var wg sync.WaitGroup
	results := make(chan error, users*4)
	for i := range users {
		for j := range 4 { // each user: four distinct requests; 40 points buy at most one "small"
			wg.Go(func() {
				reward := "small"
				if j == 0 {
					reward = "scarce"
				}
				_, err := l.Redeem(context.Background(), fmt.Sprint("u", i), reward, fmt.Sprint("r", j))
				results <- err
			})
		}
	}
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for err := range results {
		switch {
		case err == nil:
			counts["ok"]++
		case errors.Is(err, ErrOutOfStock):
			counts["stock"]++
		case errors.Is(err, ErrInsufficientPoints):
			counts["points"]++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	var total int64
	for i := range users {
		acct := mustAccount(t, l, fmt.Sprint("u", i))
		if acct.Balance < 0 {
			t.Fatalf("negative balance %+v", acct)
		}
		total += acct.Balance
	}
	es := 0
	for i := range users {
		entries, _ := l.Entries(context.Background(), fmt.Sprint("u", i))
		for _, e := range entries {
			if e.Kind == EntryRedeem {
				es++
			}
		}
	}
	if es != counts["ok"] {
		t.Fatalf("%d redeem entries for %d successes", es, counts["ok"])
	}
	scarce := 0
	for i := range users {
		entries, _ := l.Entries(context.Background(), fmt.Sprint("u", i))
		for _, e := range entries {
			if e.Source == "scarce" {
				scarce++
			}
		}
	}
	if scarce != 3 {
		t.Fatalf("%d scarce redemptions, want exactly the stock of 3 (counts %v)", scarce, counts)
	}
	if spent := int64(users*40) - total; spent != int64(counts["ok"]-scarce)*30+int64(scarce)*10 {
		t.Fatalf("spent %d does not match %d successes", spent, counts["ok"])
	}
}

func TestMemoryStoreConformance(t *testing.T) {
	runStoreConformance(t, func(*testing.T) Store { return NewMemoryStore() })
}

// TestMemoryStoreForgets: over 14 months of monthly awards and orders, the memory store keeps the records
// of this month's and last month's awards, the last 12 months of orders (records, and in the user's account),
// and the leaderboards of the streams awarded in the last two months: what the Redis store keeps.
func TestMemoryStoreForgets(t *testing.T) {
	clock := testenv.NewClock(t0)
	s := NewMemoryStore()
	l := newTestLedger(t, s, clock, nil)
	const months = 14
	for m := range months {
		clock.Set(t0.AddDate(0, m, 0))
		mustAward(t, l, Award{Key: fmt.Sprint("poll:", m), User: "u", Stream: fmt.Sprint("s", m), Points: 5, Participation: true})
		mustAward(t, l, Award{Key: fmt.Sprint("order:", m), User: "u", Source: "purchase", Points: 50, Pending: true})
	}
	var records, orders int
	for k := range s.awards {
		if strings.HasPrefix(k, "order:") {
			orders++
		} else {
			records++
		}
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"award records", records, 2},
		{"order records", orders, 13},
		{"orders in the account", len(s.users["u"].orders), 13},
		{"leaderboards", len(s.boards), 2},
	} {
		if c.got > c.want {
			t.Errorf("after %d months: %d %s, want at most %d", months, c.got, c.what, c.want)
		}
	}
}

// factLine writes a fact in one line for comparisons: its kind, what it moved and the balance after it.
func factLine(f Fact) string {
	switch f.Kind {
	case FactTier:
		return fmt.Sprintf("%s tier %s>%s %s b%d", f.At.UTC().Format(time.DateTime), f.From, f.To, f.Reason, f.Balance)
	case FactSettled:
		return fmt.Sprintf("%s settled %s@%s %d b%d", f.At.UTC().Format(time.DateTime), f.Key, f.Stream, f.Points, f.Balance)
	case FactExpiring:
		return fmt.Sprintf("%s expiring %d by %s b%d", f.At.UTC().Format(time.DateTime), f.Points, f.ExpiresBy.UTC().Format(time.DateTime), f.Balance)
	}
	return fmt.Sprintf("%s %s %d b%d", f.At.UTC().Format(time.DateTime), f.Kind, f.Points, f.Balance)
}

func factLines(t *testing.T, fs []Fact, user string) []string {
	t.Helper()
	lines := make([]string, 0, len(fs))
	for i, f := range fs {
		if f.User != user || (i > 0 && f.Seq <= fs[i-1].Seq) {
			t.Fatalf("fact %d %+v: want user %s and a rising seq", i, f, user)
		}
		lines = append(lines, factLine(f))
	}
	return lines
}

// testFacts: every change no call asked for is recorded as a fact with its change: settling, expiry, the
// expiry notice (once per lot, ExpiringNotice ahead, grouped by the business day they expire by) and every
// tier change with its reason; a replayed award records nothing again.
func testFacts(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100000 })
	mustAward(t, l, Award{Key: "w1", User: "u", Stream: "s", Points: 100, Participation: true})
	mustAward(t, l, Award{Key: "order:1", User: "u", Stream: "s", Source: "purchase", Points: 3000, Pending: true})
	clock.Set(t0.Add(24 * time.Hour))
	if _, err := l.Refund(ctx, "order:1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	order3 := Award{Key: "order:3", User: "u", Stream: "s", Source: "purchase", Points: 3000, Pending: true}
	mustAward(t, l, order3)
	if res := mustAward(t, l, order3); res.Applied {
		t.Fatalf("replay applied: %+v", res)
	}
	for _, at := range []time.Time{
		t0.Add(8 * 24 * time.Hour),                    // order:3 settles
		time.Date(2027, 2, 7, 23, 0, 0, 0, time.UTC),  // nothing within 30 days of expiring
		time.Date(2027, 2, 8, 0, 1, 0, 0, time.UTC),   // w1 (earned 2026-03-10 12:00) expires by 2027-03-11
		time.Date(2027, 2, 8, 12, 0, 0, 0, time.UTC),  // announced once
		time.Date(2027, 2, 9, 0, 1, 0, 0, time.UTC),   // order:3's lot (2026-03-11 12:00), by 2027-03-12
		time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),   // March 2026 leaves the trailing twelve months
		time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC), // w1 expires
		time.Date(2027, 3, 11, 12, 0, 0, 0, time.UTC), // order:3's points expire
		time.Date(2027, 3, 11, 12, 0, 0, 0, time.UTC).Add(time.Hour),
	} {
		clock.Set(at)
		mustAccount(t, l, "u")
	}
	got := factLines(t, mustFacts(t, l, "u"), "u")
	want := []string{
		"2026-03-10 12:00:00 tier bronze>silver award b100",
		"2026-03-11 12:00:00 tier silver>bronze refund b100",
		"2026-03-11 12:00:00 tier bronze>silver award b100",
		"2026-03-18 12:00:00 settled order:3@s 3000 b3100",
		"2027-02-08 00:01:00 expiring 100 by 2027-03-11 00:00:00 b3100",
		"2027-02-09 00:01:00 expiring 3000 by 2027-03-12 00:00:00 b3100",
		"2027-03-01 00:00:00 tier silver>bronze window b3100",
		"2027-03-10 12:00:00 expired 100 b3000",
		"2027-03-11 12:00:00 expired 3000 b0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("facts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fs := mustFacts(t, l, "nobody"); len(fs) != 0 {
		t.Fatalf("facts of an unknown user: %+v", fs)
	}
}

// testFactsAck: AckFacts drops the facts up to a seq and keeps the later ones, also those recorded after the
// facts were read; a late refund of a pending order records its settling before its reversal.
func testFactsAck(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100000 })
	mustAward(t, l, Award{Key: "order:1", User: "u", Source: "purchase", Points: 3000, Pending: true}) // bronze → silver
	read := mustFacts(t, l, "u")
	clock.Set(t0.Add(10 * 24 * time.Hour))
	if _, err := l.Refund(ctx, "order:1", time.Time{}); err != nil { // settles first, then reverses
		t.Fatal(err)
	}
	if len(read) != 1 {
		t.Fatalf("facts read %+v, want the tier change", read)
	}
	if err := l.AckFacts(ctx, "u", read[len(read)-1].Seq); err != nil {
		t.Fatal(err)
	}
	got := factLines(t, mustFacts(t, l, "u"), "u")
	want := []string{
		"2026-03-20 12:00:00 settled order:1@ 3000 b3000",
		"2026-03-20 12:00:00 tier silver>bronze refund b0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("facts after the ack:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := l.AckFacts(ctx, "u", 1<<40); err != nil {
		t.Fatal(err)
	}
	if fs := mustFacts(t, l, "u"); len(fs) != 0 {
		t.Fatalf("facts after acknowledging all: %+v", fs)
	}
	mustAward(t, l, Award{Key: "order:2", User: "u", Source: "purchase", Points: 5000, Pending: true})
	if fs := mustFacts(t, l, "u"); len(fs) != 1 || fs[0].Seq <= read[0].Seq+2 || fs[0].To != TierSilver {
		t.Fatalf("a new fact after the ack: %+v, want one tier change numbered after the acknowledged ones", fs)
	}
}

// testSweep: users who do nothing still settle and expire, by Sweep, which visits at most its limit and
// names the users with facts to publish until they are acknowledged.
func testSweep(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, nil)
	const users = 5
	for i := range users {
		mustAward(t, l, Award{Key: fmt.Sprint("order:", i), User: fmt.Sprint("u", i), Source: "purchase", Points: 100, Pending: true})
	}
	sweep := func(limit int) SweepResult {
		t.Helper()
		res, err := l.Sweep(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		if res.Visited > limit || len(res.Users) > limit {
			t.Fatalf("Sweep(%d) = %+v: over its limit", limit, res)
		}
		return res
	}
	if res := sweep(10); len(res.Users) != 0 {
		t.Fatalf("sweep before anything is due: %+v", res)
	}
	check := func(what string, kind FactKind) {
		t.Helper()
		if res := sweep(2); len(res.Users) != 2 {
			t.Fatalf("%s: sweep(2) names %v, want 2 users", what, res.Users)
		}
		var named []string
		for range users { // bounded: a few small sweeps reach everyone
			named = sweep(2).Users
		}
		if named = sweep(10).Users; len(named) != users {
			t.Fatalf("%s: sweeps name %v, want all %d users", what, named, users)
		}
		for _, u := range named {
			fs := mustFacts(t, l, u)
			if len(fs) != 1 || fs[0].Kind != kind || fs[0].Points != 100 {
				t.Fatalf("%s: facts of %s %+v, want one %s of 100", what, u, fs, kind)
			}
			if err := l.AckFacts(ctx, u, fs[0].Seq); err != nil {
				t.Fatal(err)
			}
		}
		if res := sweep(10); len(res.Users) != 0 {
			t.Fatalf("%s: after the acks the sweep names %v", what, res.Users)
		}
	}
	clock.Set(t0.Add(8 * 24 * time.Hour))
	check("settle", FactSettled)
	clock.Set(t0.AddDate(1, 0, -29)) // within 30 days of expiring
	check("notice", FactExpiring)
	clock.Set(t0.AddDate(1, 0, 0))
	check("expiry", FactExpired)
	for i := range users {
		if acct := mustAccount(t, l, fmt.Sprint("u", i)); acct.Balance != 0 || acct.Expired != 100 {
			t.Fatalf("u%d after expiry: %+v", i, acct)
		}
	}
}

// testMonthEndInBeijingTime: on the last day of a month at 23:59 and at 00:01 Beijing time (the default
// business calendar), the cap is still the old month's and then the new one's, and the tier earned by points
// of April 2026 holds at 23:59 on March 31, 2027 and drops, by the sweep, at 00:01 on April 1, with a fact.
func testMonthEndBeijing(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, time.April, 1, 0, 30, 0, 0, beijing))
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 3000; c.Location = nil })
	mustAward(t, l, Award{Key: "big", User: "t", Points: 3000})
	tierFacts := func() []string {
		var out []string
		for _, f := range mustFacts(t, l, "t") {
			if f.Kind == FactTier {
				out = append(out, f.At.In(beijing).Format("2006-01-02 15:04")+" "+string(f.From)+">"+string(f.To)+" "+f.Reason)
			}
		}
		return out
	}

	clock.Set(time.Date(2027, time.March, 31, 23, 59, 0, 0, beijing))
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := mustAccount(t, l, "t"); got.Tier != TierSilver {
		t.Fatalf("23:59 March 31: tier %s, want silver", got.Tier)
	}
	if got := mustAward(t, l, Award{Key: "c1", User: "c", Points: 2995}); got.Granted != 2995 {
		t.Fatalf("23:59: %+v", got)
	}
	if got := mustAward(t, l, Award{Key: "c2", User: "c", Points: 10}); got.Granted != 5 || got.Capped != 5 {
		t.Fatalf("23:59: %+v, want 5 granted and 5 capped by March's cap", got)
	}
	if got := tierFacts(); len(got) != 1 {
		t.Fatalf("tier facts at 23:59: %v, want only the rise", got)
	}

	clock.Set(time.Date(2027, time.April, 1, 0, 1, 0, 0, beijing))
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-04-01 00:30 bronze>silver award", "2027-04-01 00:01 silver>bronze window"}
	if got := tierFacts(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tier facts after 00:01 April 1: %v, want %v", got, want)
	}
	if got := mustAward(t, l, Award{Key: "c3", User: "c", Points: 10}); got.Granted != 10 {
		t.Fatalf("00:01: %+v, want April's cap", got)
	}
	if got := mustAccount(t, l, "t"); got.Tier != TierBronze {
		t.Fatalf("00:01 April 1: tier %s, want bronze", got.Tier)
	}
}
