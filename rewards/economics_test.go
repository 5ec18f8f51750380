package rewards

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// The economics a rules file sets (tiers by spend with privileges, the sources the cap counts), on every
// Store.
func runEconomicsConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("TiersBySpend", func(t *testing.T) { testTiersBySpend(t, newStore) })
	t.Run("CapSources", func(t *testing.T) { testCapSources(t, newStore) })
	t.Run("SpendDowngradeNotice", func(t *testing.T) { testSpendDowngrade(t, newStore) })
}

// testSpendDowngrade: with tiers by spend, the drop when a month's spend leaves the trailing twelve is
// announced in yuan to spend.
func testSpendDowngrade(t *testing.T, newStore func(t *testing.T) Store) {
	clock := testenv.NewClock(t0) // 2026-03-10
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.TierBasis = BasisSpend; c.Tiers = spendTiers })
	mustAward(t, l, Award{Key: "order:1", User: "u", Source: "purchase", Points: 600, Pending: true, Amount: 60_000})
	clock.Set(time.Date(2026, time.April, 2, 0, 0, 0, 0, time.UTC))
	mustAward(t, l, Award{Key: "order:2", User: "u", Source: "purchase", Points: 100, Pending: true, Amount: 10_000})
	if acct := mustAccount(t, l, "u"); acct.Tier != "gold" || acct.Downgrade != nil {
		t.Fatalf("in April: %+v", acct)
	}
	// 2027-02-20: March 2026 (¥600) leaves the window on March 1, ¥100 stay: bronze unless ¥500 more.
	clock.Set(time.Date(2027, time.February, 20, 0, 0, 0, 0, time.UTC))
	acct := mustAccount(t, l, "u")
	want := Downgrade{From: "gold", To: "bronze", At: time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC), Needed: 500, Basis: BasisSpend}
	if acct.Tier != "gold" || acct.Spent12Months != 700 || acct.Downgrade == nil || *acct.Downgrade != want {
		t.Fatalf("before the drop: %+v (downgrade %+v), want %+v", acct, acct.Downgrade, want)
	}
	clock.Set(time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC))
	if acct = mustAccount(t, l, "u"); acct.Tier != "bronze" || acct.Spent12Months != 100 {
		t.Fatalf("after the drop: %+v", acct)
	}
}

func TestMemoryEconomics(t *testing.T) {
	runEconomicsConformance(t, func(*testing.T) Store { return NewMemoryStore() })
}

func TestRedisEconomics(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runEconomicsConformance(t, newTestRedisStore)
}

var spendTiers = []TierRule{
	{Tier: "bronze", Threshold: 0, Multiplier: 1},
	{Tier: "silver", Threshold: 300, Multiplier: 1.1, Privileges: []string{"优先客服"}},
	{Tier: "gold", Threshold: 600, Multiplier: 1.25, Privileges: []string{"优先客服", "新品试用", "包邮"}},
}

// testTiersBySpend: the tier follows whole yuan spent (Award.Amount of purchases), not points; a refund
// takes its amount off; the tier's privileges and multiplier apply.
func testTiersBySpend(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.TierBasis = BasisSpend; c.Tiers = spendTiers })

	r := mustAward(t, l, Award{Key: "order:1", User: "u", Source: "purchase", Points: 299, Pending: true, Amount: 29_999})
	if r.Tier != "bronze" {
		t.Fatalf("after ¥299.99: tier %s, want bronze", r.Tier)
	}
	acct := mustAccount(t, l, "u")
	if acct.Tier != "bronze" || acct.Spent12Months != 299 || acct.TierBasis != BasisSpend || len(acct.Privileges) != 0 || acct.Privileges == nil {
		t.Fatalf("account after ¥299.99: %+v", acct)
	}
	// One fen more makes ¥300: silver, though no point more was earned.
	r = mustAward(t, l, Award{Key: "order:2", User: "u", Source: "purchase", Points: 0, Pending: true, Amount: 1})
	if r.Tier != "silver" || !r.TierChanged || r.PreviousTier != "bronze" {
		t.Fatalf("after ¥300.00: %+v, want silver from bronze", r)
	}
	acct = mustAccount(t, l, "u")
	if acct.Tier != "silver" || acct.Spent12Months != 300 || !reflect.DeepEqual(acct.Privileges, []string{"优先客服"}) {
		t.Fatalf("account at ¥300: %+v", acct)
	}
	// Points do not make gold: 100 participation points × 1.1 (silver) = 110, 409 points earned in all.
	r = mustAward(t, l, Award{Key: "poll:1", User: "u", Source: "poll", Points: 100, Participation: true})
	if r.Granted != 110 || r.Tier != "silver" {
		t.Fatalf("poll award as silver: %+v, want 110 granted, still silver", r)
	}
	r = mustAward(t, l, Award{Key: "poll:2", User: "u", Source: "poll", Points: 300, Participation: true})
	if r.Tier != "silver" {
		t.Fatalf("with 740 points but ¥300 spent: tier %s, want silver", r.Tier)
	}
	// The first order refunded: ¥0.01 left, bronze again.
	if _, err := l.Refund(ctx, "order:1", clock.Now()); err != nil {
		t.Fatal(err)
	}
	acct = mustAccount(t, l, "u")
	if acct.Tier != "bronze" || acct.Spent12Months != 0 || len(acct.Privileges) != 0 {
		t.Fatalf("account after the refund: %+v", acct)
	}
	// ¥600 in one order: gold with its three privileges.
	mustAward(t, l, Award{Key: "order:3", User: "u", Source: "purchase", Points: 600, Pending: true, Amount: 60_000})
	acct = mustAccount(t, l, "u")
	if acct.Tier != "gold" || acct.Spent12Months != 600 || !reflect.DeepEqual(acct.Privileges, []string{"优先客服", "新品试用", "包邮"}) {
		t.Fatalf("account at ¥600.01: %+v", acct)
	}
	// Spend counts in the trailing twelve months only: a year on, bronze.
	clock.Advance(366 * 24 * time.Hour)
	if acct = mustAccount(t, l, "u"); acct.Tier != "bronze" || acct.Spent12Months != 0 {
		t.Fatalf("account a year on: %+v", acct)
	}
}

// testCapSources: only the listed sources count toward the cap; the others are paid in full and leave the
// month's room as it was, also once refunded.
func testCapSources(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100; c.CapSources = []string{"poll", "watch"} })
	if r := mustAward(t, l, Award{Key: "poll:1", User: "u", Source: "poll", Points: 80, Participation: true}); r.Granted != 80 {
		t.Fatalf("poll: %+v", r)
	}
	if r := mustAward(t, l, Award{Key: "order:1", User: "u", Source: "purchase", Points: 500, Pending: true, Amount: 50_000}); r.Granted != 500 || r.Capped != 0 {
		t.Fatalf("purchase outside the cap: %+v, want 500 granted", r)
	}
	if r := mustAward(t, l, Award{Key: "poll:2", User: "u", Source: "poll", Points: 50, Participation: true}); r.Granted != 20 || r.Capped != 30 {
		t.Fatalf("poll after the purchase: %+v, want 20 granted (the room the purchase left), 30 capped", r)
	}
	if _, err := l.Refund(ctx, "order:1", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := mustAward(t, l, Award{Key: "watch:1", User: "u", Source: "watch", Points: 5, Participation: true}); r.Granted != 0 || r.Capped != 5 {
		t.Fatalf("watch after the refund: %+v, want all capped (the refund frees no room)", r)
	}
	if acct := mustAccount(t, l, "u"); acct.Balance != 100 || acct.Pending != 0 {
		t.Fatalf("account: %+v, want 100 spendable", acct)
	}
}
