package engagement

import (
	"context"
	"sync"
	"testing"
	"time"
)

func testScoreState(t *testing.T, s Store) {
	ctx := context.Background()
	read := func(stream, user, kind string) LimitState {
		t.Helper()
		var seen LimitState
		if _, err := s.UpdateScoreState(ctx, stream, user, kind, func(st *LimitState) bool { seen = *st; return false }); err != nil {
			t.Fatalf("UpdateScoreState: %v", err)
		}
		return seen
	}
	sameJSON(t, "state never stored", read("s1", "u1", "comment"), LimitState{})

	_, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
		*st = st.Next(conformanceT0)
		return false // not scored: nothing is stored
	})
	if err != nil {
		t.Fatalf("UpdateScoreState: %v", err)
	}
	sameJSON(t, "state after fn returned false", read("s1", "u1", "comment"), LimitState{})

	for i := range 2 {
		got, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
			*st = st.Next(conformanceT0.Add(time.Duration(i) * time.Minute))
			return true
		})
		if err != nil {
			t.Fatalf("UpdateScoreState: %v", err)
		}
		sameJSON(t, "returned state", got, LimitState{Count: int64(i + 1), Last: conformanceT0.Add(time.Duration(i) * time.Minute)})
	}
	sameJSON(t, "stored state", read("s1", "u1", "comment"), LimitState{Count: 2, Last: conformanceT0.Add(time.Minute)})
	for _, other := range [][3]string{{"s1", "u2", "comment"}, {"s1", "u1", "question"}, {"s2", "u1", "comment"}} {
		sameJSON(t, "state of "+other[0]+"/"+other[1]+"/"+other[2], read(other[0], other[1], other[2]), LimitState{})
	}
}

// testScoreStateConcurrent checks that no scored interaction is lost when many writers race.
func testScoreStateConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, each = 5, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
					*st = st.Next(conformanceT0)
					return true
				}); err != nil {
					t.Errorf("UpdateScoreState: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(*LimitState) bool { return false })
	if err != nil {
		t.Fatalf("UpdateScoreState: %v", err)
	}
	if got.Count != writers*each {
		t.Errorf("after %d concurrent scored interactions Count = %d", writers*each, got.Count)
	}
}

// scoreStoreSuite is ScoreStore's part of the Store conformance suite (runStoreSuite).
var scoreStoreSuite = []storeCase{
	{"ScoreState", testScoreState},
	{"ScoreStateConcurrent", testScoreStateConcurrent},
}

// TestOnlyOwnerServiceAdminSeePoints: a host used to read any user's balance, tier and ledger (purchases
// included), not only their own viewers'. Now a user's points are read by the user, the shop's backend and
// admins only.
func TestOnlyOwnerServiceAdminSeePoints(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	tests := []struct {
		name  string
		actor Actor
		code  Code
	}{
		{"the user", viewer("ann"), ""},
		{"another viewer", viewer("bob"), CodeForbidden},
		{"a host", f.host1, CodeForbidden},
		{"a host with a token for the stream", Actor{User: "host1", Role: RoleHost, Stream: "s1"}, CodeForbidden},
		{"the shop's backend", Actor{User: "shop", Role: RoleService}, ""},
		{"an admin", Actor{User: "root", Role: RoleAdmin}, ""},
	}
	if _, err := f.svc.Join(ctx, viewer("ann"), "s1"); err != nil { // ann is the host's viewer
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Account(ctx, tt.actor, "ann")
			wantHostCode(t, err, tt.code)
		})
	}
}

// TestLeaderboardRanksParticipationOnly: the public stream leaderboard used to add purchase points, so it
// ranked viewers by what they spent. Now it ranks participation only.
func TestLeaderboardRanksParticipationOnly(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Vote(ctx, viewer("ann"), "s1", p.ID, 0); err != nil {
		t.Fatal(err)
	}
	shop := Actor{User: "shop", Role: RoleService}
	for _, o := range []Purchase{
		{OrderID: "o-1", UserID: "bob", StreamID: "s1", AmountFen: 500_000},
		{OrderID: "o-2", UserID: "ann", StreamID: "s1", AmountFen: 20_000},
	} {
		if _, _, err := f.svc.RecordPurchase(ctx, shop, o); err != nil {
			t.Fatal(err)
		}
	}
	top, err := f.svc.Leaderboard(ctx, "s1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].User != "ann" || top[0].Points != 5 {
		t.Fatalf("leaderboard %+v, want ann with her 5 vote points only", top)
	}
}

// TestOrderIsIdempotentWhateverItsAmount: an order id posted again with another amount (or user) used to be
// answered as a replay of the first post, and an order under one yuan was not recorded at all, so the same id
// posted later with a large amount was paid in full. Now the id is the order's whatever the amount: another
// amount or user is a conflict.
func TestOrderIsIdempotentWhateverItsAmount(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	steps := []struct {
		name         string
		p            Purchase
		code         Code
		points       int64
		wantReplayed bool
	}{
		{"first post", Purchase{OrderID: "o-1", UserID: "ann", StreamID: "s1", AmountFen: 12345}, "", 123, false},
		{"same post again", Purchase{OrderID: "o-1", UserID: "ann", StreamID: "s1", AmountFen: 12345}, "", 123, true},
		{"another amount", Purchase{OrderID: "o-1", UserID: "ann", StreamID: "s1", AmountFen: 999_999}, CodeConflict, 0, false},
		{"another amount with the same points", Purchase{OrderID: "o-1", UserID: "ann", StreamID: "s1", AmountFen: 12399}, CodeConflict, 0, false},
		{"another user", Purchase{OrderID: "o-1", UserID: "bob", StreamID: "s1", AmountFen: 12345}, CodeConflict, 0, false},
		{"under one yuan", Purchase{OrderID: "o-small", UserID: "ann", StreamID: "s1", AmountFen: 50}, "", 0, false},
		{"under one yuan again", Purchase{OrderID: "o-small", UserID: "ann", StreamID: "s1", AmountFen: 50}, "", 0, true},
		{"a small order's id with a large amount", Purchase{OrderID: "o-small", UserID: "ann", StreamID: "s1", AmountFen: 5_000_000}, CodeConflict, 0, false},
		{"a small order's id for another user", Purchase{OrderID: "o-small", UserID: "bob", AmountFen: 5_000_000}, CodeConflict, 0, false},
	}
	for _, st := range steps {
		res, _, err := f.svc.RecordPurchase(ctx, shop, st.p)
		wantHostCode(t, err, st.code)
		if err == nil && (res.Points != st.points || res.Replayed != st.wantReplayed) {
			t.Fatalf("%s: %+v, want %d points, replayed %v", st.name, res, st.points, st.wantReplayed)
		}
	}
	for user, want := range map[string]int64{"ann": 123, "bob": 0} {
		if acc, err := f.svc.Account(ctx, shop, user); err != nil || acc.Pending != want || acc.Balance != 0 {
			t.Fatalf("%s's account %+v, %v; want %d pending", user, acc, err, want)
		}
	}
	// A replay publishes the order's event again with the same id (its first publication may have been lost
	// before it was durable): consumers, deduping by id, see one per order.
	ids := map[string]bool{}
	for _, ev := range f.eventsOf(EventPurchaseRecorded) {
		ids[ev.ID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("%d distinct purchase.recorded ids, want 2 (one per order)", len(ids))
	}
	if res, err := f.svc.RefundPurchase(ctx, shop, "o-small", Refund{}); err != nil || res.User != "ann" || res.Cancelled != 0 {
		t.Fatalf("refund of the small order = %+v, %v", res, err)
	}
}

// scoreAgedSuite is ScoreStore's part of the suite's lifetime cases (runStoreSuite).
var scoreAgedSuite = []agedCase{
	{"StateLifetime", testScoreStateLifetime},
}

// testScoreStateLifetime: score state lives scoreStateTTL after it was stored: StreamTTL, a replay mark
// Retention (as long as the timeline it was made on), user-wide state userStateTTL; expired, it reads as zero.
func testScoreStateLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	states := [][3]string{ // stream, user, kind
		{"s1", "u1", SourceComment},
		{"s1", "u1", replayKinds + "quiz:q1:q0"},
		{"s1", "u1", replayKinds + "points"},
		{"", "u1", "tier-warning:2026-04"},
	}
	for _, k := range states {
		_, err := s.UpdateScoreState(ctx, k[0], k[1], k[2], func(st *LimitState) bool { *st = st.Next(conformanceT0); return true })
		noErr(t, err)
	}
	kept := func(when string, want ...bool) {
		t.Helper()
		for i, k := range states {
			got, err := s.UpdateScoreState(ctx, k[0], k[1], k[2], func(*LimitState) bool { return false })
			noErr(t, err)
			if (got.Count == 1) != want[i] {
				t.Errorf("%s: state %q = %+v, want kept %v", when, k, got, want[i])
			}
		}
	}
	age(DefaultStreamTTL - time.Minute)
	kept("a minute before StreamTTL", true, true, true, true)
	age(time.Minute)
	kept("at StreamTTL", false, true, true, true)
	age(DefaultRetention - DefaultStreamTTL - time.Minute)
	kept("a minute before Retention", false, true, true, true)
	age(time.Minute)
	kept("at Retention", false, false, false, true)
	age(userStateTTL - DefaultRetention)
	kept("at userStateTTL", false, false, false, false)
}
