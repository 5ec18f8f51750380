package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/testenv"
)

// layout1Fixture is testdata/ledger-layout1.json: every key a layout-1 RedisStore (the layout before the
// cluster-ready one) wrote for a scripted history of four users (awards on two streams, purchases settled,
// refunded whole and in part, gifts and coupons redeemed, a gift fulfilled, a legacy stock counter, facts
// partly acknowledged), with what that store answered at Now for each user, board, reward and key.
type layout1Fixture struct {
	Now       time.Time             `json:"now"`
	Catalogue []Reward              `json:"catalogue"`
	Users     []layout1User         `json:"users"`
	Boards    map[string][]Standing `json:"boards"`
	Remaining map[string]int64      `json:"remaining"`
	Recorded  map[string]bool       `json:"recorded"`
}

type layout1User struct {
	User        string       `json:"user"`
	Snapshot    Snapshot     `json:"snapshot"`
	Entries     []Entry      `json:"entries"`
	Redemptions []Redemption `json:"redemptions"`
	Facts       []Fact       `json:"facts"`
}

// loadLayout1 writes the fixture's keys under prefix.
func loadLayout1(t *testing.T, rdb *redis.Client, prefix string) layout1Fixture {
	t.Helper()
	var f layout1Fixture
	if err := json.Unmarshal(testenv.LoadRedisDump(t, rdb, prefix, "testdata/ledger-layout1.json"), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s after the migration:\n got %s\nwant %s", what, g, w)
	}
}

// TestRedisMigrateLayout1: a store holding a layout-1 ledger is refused (ErrLayoutOutdated); Migrate moves
// it, after which every user's snapshot, entries, redemptions and facts, both leaderboards, the units left
// and the award records read exactly as the layout-1 store answered them; a second run changes nothing; and
// the ledger goes on: a replayed award, a refund of a migrated order, a fulfilled migrated gift claim, a
// redemption counted against the legacy stock counter, and the sweep's indexes.
func TestRedisMigrateLayout1(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	f := loadLayout1(t, rdb, prefix)
	ctx := context.Background()
	clock := testenv.NewClock(f.Now)
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	l := newTestLedger(t, store, clock, func(c *Config) { c.Catalogue = f.Catalogue })
	if err := l.CheckStore(ctx); !errors.Is(err, ErrLayoutOutdated) {
		t.Fatalf("CheckStore on a layout-1 ledger: %v, want ErrLayoutOutdated", err)
	}
	rep, err := l.MigrateStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 4 || rep.Records != 30 || rep.Boards != 2 || rep.Gifts != 5 || rep.Rewards != 3 || rep.Reindexed != 4 {
		t.Errorf("report %+v; want 4 users, 30 records, 2 boards, 5 gift claims, 3 rewards redeemed, 4 reindexed", rep)
	}
	if err := l.CheckStore(ctx); err != nil {
		t.Fatalf("CheckStore after the migration: %v", err)
	}
	if n, err := rdb.Keys(ctx, prefix+"acct:*").Result(); err != nil || len(n) != 0 {
		t.Fatalf("layout-1 accounts left: %v, %v", n, err)
	}
	check := func(when string) {
		t.Helper()
		p := l.policy(clock.Now())
		for _, u := range f.Users {
			snap, err := store.Snapshot(ctx, u.User, p)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, when+": snapshot of "+u.User, snap, u.Snapshot)
			es, _ := store.Entries(ctx, u.User, 0)
			sameJSON(t, when+": entries of "+u.User, es, u.Entries)
			rs, _ := store.Redemptions(ctx, u.User)
			sameJSON(t, when+": redemptions of "+u.User, rs, u.Redemptions)
			fs, _ := store.Facts(ctx, u.User)
			sameJSON(t, when+": facts of "+u.User, fs, u.Facts)
		}
		for s, want := range f.Boards {
			got, err := store.Leaderboard(ctx, s, 10)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, when+": leaderboard of "+s, got, want)
		}
		left, err := store.Remaining(ctx, f.Catalogue)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, when+": units left", left, f.Remaining)
		for k, want := range f.Recorded {
			if got, err := store.Recorded(ctx, k, p); err != nil || got != want {
				t.Errorf("%s: Recorded(%q) = %v, %v; want %v", when, k, got, err, want)
			}
		}
	}
	check("the first run")
	if _, err := l.MigrateStore(ctx); err != nil {
		t.Fatal(err)
	}
	check("a second run")
	if t.Failed() {
		t.FailNow()
	}

	// The ledger goes on from the migrated state.
	res, err := l.Award(ctx, Award{Key: "poll:pa:u1", User: "u1", Stream: "s1", Points: 10, Participation: true})
	if err != nil || res.Applied {
		t.Fatalf("a migrated award replayed: %+v, %v; want not applied", res, err)
	}
	if _, err := l.Award(ctx, Award{Key: "poll:pa:u1", User: "u2", Stream: "s1", Points: 10, Participation: true}); err != nil {
		t.Fatalf("a migrated key sent for another user: %v, want its replay", err)
	}
	before := f.Users[1].Snapshot.Balance
	ref, err := l.Refund(ctx, "order:u2:1", clock.Now())
	if err != nil || ref.User != "u2" || ref.Reversed <= 0 {
		t.Fatalf("refund a migrated order: %+v, %v", ref, err)
	}
	if a := mustAccount(t, l, "u2"); a.Balance != before-ref.Reversed {
		t.Fatalf("u2 after the refund: %d, want %d", a.Balance, before-ref.Reversed)
	}
	red, err := l.Fulfil(ctx, ClaimID("u2", "r-mug-u2"))
	if err != nil || red.FulfilledAt == nil {
		t.Fatalf("fulfil a migrated gift claim: %+v, %v", red, err)
	}
	var had int64
	for _, st := range f.Boards["s1"] {
		if st.User == "u1" {
			had = st.Points
		}
	}
	got := mustAward(t, l, Award{Key: "poll:new:u1", User: "u1", Stream: "s1", Points: 50, Participation: true})
	board, err := l.Leaderboard(ctx, "s1", 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range board {
		if st.User == "u1" {
			found = true
			if had == 0 || st.Points != had+got.Granted {
				t.Fatalf("u1 on the s1 board after a new award: %d points, want %d + %d", st.Points, had, got.Granted)
			}
		}
	}
	if !found {
		t.Fatalf("u1 is not on the s1 board: %+v", board)
	}
	if _, err := l.Redeem(ctx, "u1", "old", "r-old-u1"); err != nil {
		t.Fatal(err)
	}
	left, _ := store.Remaining(ctx, f.Catalogue)
	if left["old"] != f.Remaining["old"]-1 {
		t.Fatalf("old after a redemption: %d left, want %d", left["old"], f.Remaining["old"]-1)
	}
	clock.Advance(8 * 24 * time.Hour)
	mustAward(t, l, Award{Key: "order:u1:3", User: "u1", Source: "purchase", Points: 40, Pending: true})
	clock.Advance(8 * 24 * time.Hour)
	if _, err := l.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	settled := false
	for _, fct := range mustFacts(t, l, "u1") {
		settled = settled || (fct.Kind == FactSettled && fct.Key == "order:u1:3")
	}
	if !settled {
		t.Fatal("the sweep did not settle an order made after the migration")
	}
}

// TestRedisCheckLayout: a new store is given the current layout; a layout this version does not know is
// refused.
func TestRedisCheckLayout(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	store := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	for range 2 {
		if err := store.CheckLayout(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := rdb.Get(ctx, prefix+"layout").Result(); v != ledgerLayout {
		t.Fatalf("layout = %q, want %q", v, ledgerLayout)
	}
	rdb.Set(ctx, prefix+"layout", "3", 0)
	if err := store.CheckLayout(ctx); err == nil {
		t.Fatal("a layout of a newer version was accepted")
	}
}
