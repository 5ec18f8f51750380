package engagement

import (
	"context"
	"testing"
	"time"
)

// dailyStoreSuite is DailyStore's part of the Store conformance suite (runStoreSuite).
var dailyStoreSuite = []storeCase{
	{"TakeDaily", testTakeDaily},
}

// testTakeDaily: limit slots a day per user and kind; an id decided keeps its decision (today and on the
// day after); users, kinds and days are apart.
func testTakeDaily(t *testing.T, s Store) {
	ctx := context.Background()
	take := func(user, kind, id, day string, wantTaken, wantReplayed bool) {
		t.Helper()
		taken, replayed, err := s.TakeDaily(ctx, user, kind, id, day, 2)
		noErr(t, err)
		if taken != wantTaken || replayed != wantReplayed {
			t.Fatalf("TakeDaily(%s, %s, %s, %s) = %v, %v; want %v, %v", user, kind, id, day, taken, replayed, wantTaken, wantReplayed)
		}
	}
	take("ann", "review", "r1", "2026-03-14", true, false)
	take("ann", "review", "r1", "2026-03-14", true, true) // a retry: same decision, no slot used
	take("ann", "review", "r2", "2026-03-14", true, false)
	take("ann", "review", "r3", "2026-03-14", false, false) // the third of the day
	take("ann", "review", "r3", "2026-03-14", false, false) // still refused, and not remembered
	take("ann", "share", "r3", "2026-03-14", true, false)   // another kind
	take("bob", "review", "r3", "2026-03-14", true, false)  // another user
	take("ann", "review", "r2", "2026-03-15", true, true)   // decided yesterday: not a new award today
	take("ann", "review", "r4", "2026-03-15", true, false)  // a new day has its own slots
	take("ann", "review", "r3", "2026-03-15", true, false)  // refused yesterday, taken today
	if _, _, err := s.TakeDaily(ctx, "ann", "review", "r5", "14/03/2026", 2); err == nil {
		t.Fatal("a malformed day was accepted")
	}
}

// TestShopAwards: the shop's backend awards points of a kind of the rules file once per key (a retry replays
// with the same event id), at most per_day a business day per user (a retry does not count again), with
// the tier multiplier; a viewer may not, an unknown kind or a bad key is invalid naming the field, and a key
// reused for another user is a conflict.
func TestShopAwards(t *testing.T) {
	svc, sink, clock := newTestService(t)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	review := func(user, key string) (ShopAwardResult, error) {
		r, _, err := svc.AwardShopPoints(ctx, shop, ShopAward{UserID: user, Kind: "review", Key: key})
		return r, err
	}

	first, err := review("ann", "review:SO-1")
	noErr(t, err)
	if first.Points != 10 || first.Balance != 10 || first.Replayed {
		t.Fatalf("first review award = %+v, want 10 points", first)
	}
	again, err := review("ann", "review:SO-1")
	noErr(t, err)
	if !again.Replayed || again.Points != 10 || again.Balance != 10 {
		t.Fatalf("retried award = %+v, want the first replayed", again)
	}
	for _, key := range []string{"review:SO-2", "review:SO-3"} {
		if _, err := review("ann", key); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	_, err = review("ann", "review:SO-4") // the fourth of the day: per_day 3 by default
	wantHostCode(t, err, CodeLimitReached)
	if acc, _ := svc.Account(ctx, shop, "ann"); acc.Balance != 30 {
		t.Fatalf("balance after 3 reviews and a refused fourth: %d, want 30", acc.Balance)
	}
	clock.Advance(16 * time.Hour) // 2026-11-26 04:00 UTC: the next business day in Beijing (12:00)
	if r, err := review("ann", "review:SO-4"); err != nil || r.Points != 10 {
		t.Fatalf("next business day: %+v %v", r, err)
	}

	var awarded []Event
	for _, e := range sink.Events() {
		if e.Type == EventPointsAwarded {
			awarded = append(awarded, e)
		}
	}
	if len(awarded) != 5 || awarded[0].ID != awarded[1].ID || awarded[0].ID == awarded[2].ID {
		t.Fatalf("points.awarded events: %d (a replay repeats its id, others do not): %+v", len(awarded), awarded)
	}

	_, _, err = svc.AwardShopPoints(ctx, testViewer, ShopAward{UserID: "ann", Kind: "review", Key: "k"})
	wantHostCode(t, err, CodeForbidden)
	_, _, err = svc.AwardShopPoints(ctx, testViewer, ShopAward{UserID: "ann", Kind: "nonsense", Key: ""}) // authorisation first
	wantHostCode(t, err, CodeForbidden)
	for _, tt := range []struct {
		a     ShopAward
		field string
	}{
		{ShopAward{UserID: "ann", Kind: "unboxing", Key: "k"}, "kind"},
		{ShopAward{UserID: "ann", Kind: "review", Key: "has space"}, "key"},
		{ShopAward{UserID: "", Kind: "review", Key: "k"}, "user_id"},
	} {
		_, _, err := svc.AwardShopPoints(ctx, shop, tt.a)
		wantHostCode(t, err, CodeInvalid)
		if f := FieldOf(err); f != tt.field {
			t.Errorf("%+v: field %q, want %q", tt.a, f, tt.field)
		}
	}
	_, _, err = svc.AwardShopPoints(ctx, shop, ShopAward{UserID: "ann", Kind: "share", Key: "s1", StreamID: "nope"})
	wantHostCode(t, err, CodeNotFound)
	_, err = review("bob", "review:SO-1") // ann's key for bob
	wantHostCode(t, err, CodeConflict)
}

// TestShopAwardRules: a rules file's shop_awards replace the defaults' kinds it names and are validated;
// a kind may be one of the cap's sources.
func TestShopAwardRules(t *testing.T) {
	r, err := parseRules([]byte(`{"shop_awards": {"review": {"points": 20, "per_day": 1}, "unboxing_video": {"points": 50, "per_day": 1}},
		"loyalty": {"cap_sources": ["purchase", "unboxing_video"]}}`))
	noErr(t, err)
	if r.ShopAwards["review"] != (ShopAwardRule{Points: 20, PerDay: 1}) || r.ShopAwards["unboxing_video"].Points != 50 || r.ShopAwards["share"].Points != 5 {
		t.Fatalf("shop awards %+v", r.ShopAwards)
	}
	for _, bad := range []struct{ doc, field string }{
		{`{"shop_awards": {"review": {"points": 0, "per_day": 1}}}`, "shop_awards.review.points"},
		{`{"shop_awards": {"review": {"points": 5, "per_day": 0}}}`, "shop_awards.review.per_day"},
		{`{"shop_awards": {"Review!": {"points": 5, "per_day": 1}}}`, "shop_awards.Review!"},
		{`{"shop_awards": {"comment": {"points": 5, "per_day": 1}}}`, "shop_awards.comment"},
		{`{"shop_awards": {"review": {"points": 5, "per_day": 1, "bonus": 2}}}`, "shop_awards.review.bonus"},
		{`{"loyalty": {"cap_sources": ["unboxing"]}}`, "loyalty.cap_sources[0]"},
	} {
		_, err := parseRules([]byte(bad.doc))
		if err == nil || !hasProblem(err, bad.field) {
			t.Errorf("%s: %v; want a problem at %s", bad.doc, err, bad.field)
		}
	}
}

// hasProblem reports whether err is a *RulesError with a problem at field.
func hasProblem(err error, field string) bool {
	re, ok := err.(*RulesError)
	if !ok {
		return false
	}
	for _, p := range re.Problems {
		if p.Field == field {
			return true
		}
	}
	return false
}
