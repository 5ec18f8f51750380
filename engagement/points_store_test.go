package engagement

import (
	"context"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"golang.org/x/time/rate"
)

// newPointsStoreService returns a Service over store with a ledger (on clock) that paid ann 1000 points.
func newPointsStoreService(t *testing.T, store Store, clock *testenv.Clock) (*Service, *MemorySink) {
	t.Helper()
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Award(context.Background(), rewards.Award{Key: "seed", User: "ann", Points: 1000}); err != nil {
		t.Fatal(err)
	}
	sink := NewMemorySink()
	return New(Config{Now: clock.Now, CommentRate: rate.Inf, Ledger: ledger}, store, sink), sink
}

var storeItems = []rewards.Reward{
	{ID: "c5", Title: "¥5 off", Cost: 100, Kind: rewards.KindCoupon, DiscountFen: 500, MinSpendFen: 2000},
	{ID: "mug", Title: "Mug", Cost: 200, Kind: rewards.KindGift, Stock: 3},
}

func TestPointsStoreCouponCode(t *testing.T) {
	t.Run("Memory", func(t *testing.T) { testPointsStoreCouponCode(t, NewMemoryStore()) })
	t.Run("Redis", func(t *testing.T) { testPointsStoreCouponCode(t, newTestRedisStore(t)) })
}

// testPointsStoreCouponCode: a coupon item's redemption gives a code that the checkout's CouponByCode finds
// (claimed, ann's, the item's amounts, expiring RewardCodeValidity after the redemption) and
// RedeemCouponCode redeems; a replay of the request returns the same code and debits once; a second
// redemption of the same item gives another code whose redemption.used event has an id of its own.
func testPointsStoreCouponCode(t *testing.T, store Store) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 3, 14, 19, 30, 0, 0, time.UTC))
	svc, sink := newPointsStoreService(t, store, clock)
	ann := Actor{User: "ann", Role: RoleViewer}
	shop := Actor{User: "shop", Role: RoleService}
	if _, err := svc.SetCatalogue(ctx, shop, storeItems); err != nil {
		t.Fatal(err)
	}
	r, err := svc.Redeem(ctx, ann, "ann", "c5", "r1")
	if err != nil || r.Code == "" || r.ExpiresAt == nil || !r.ExpiresAt.Equal(clock.Now().Add(RewardCodeValidity)) {
		t.Fatalf("redeem = %+v, %v", r, err)
	}
	clock.Advance(time.Minute)
	again, err := svc.Redeem(ctx, ann, "ann", "c5", "r1")
	if err != nil || !again.Replayed || again.Code != r.Code || !again.ExpiresAt.Equal(*r.ExpiresAt) {
		t.Fatalf("replay = %+v, %v; want code %s", again, err, r.Code)
	}
	if acc, _ := svc.Account(ctx, ann, "ann"); acc.Balance != 900 {
		t.Fatalf("balance %d after a redemption and its replay, want 900 (debited once)", acc.Balance)
	}
	rec, err := svc.CouponByCode(ctx, shop, r.Code)
	if err != nil || rec.Status != CodeStatusClaimed || rec.UserID != "ann" || rec.DiscountFen != 500 || rec.MinSpendFen != 2000 ||
		rec.CouponID != "c5" || rec.StreamID != "" || rec.RedemptionID != "r1" || !rec.ExpiresAt.Equal(*r.ExpiresAt) {
		t.Fatalf("CouponByCode = %+v, %v", rec, err)
	}
	red, err := svc.RedeemCouponCode(ctx, shop, r.Code, "SO-1")
	if err != nil || red.Status != CodeStatusRedeemed || red.OrderID != "SO-1" {
		t.Fatalf("RedeemCouponCode = %+v, %v", red, err)
	}
	if _, err := svc.RedeemCouponCode(ctx, shop, r.Code, "SO-2"); CodeOf(err) != CodeConflict {
		t.Fatalf("another order: %v, want conflict", err)
	}
	second, err := svc.Redeem(ctx, ann, "ann", "c5", "r2")
	if err != nil || second.Code == r.Code {
		t.Fatalf("second redemption = %+v, %v; want a code of its own", second, err)
	}
	if _, err := svc.RedeemCouponCode(ctx, shop, second.Code, "SO-3"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, ev := range sink.Events() {
		if ev.Type == EventCouponRedeemed {
			t.Fatalf("a points-store code published coupon.redeemed: %+v", ev)
		}
		if ev.Type == EventRedemptionUsed {
			ids[ev.ID] = true
		}
	}
	if len(ids) != 2 {
		t.Fatalf("redemption.used ids %v, want one per code", ids)
	}
	// After its 30 days the code is expired at the checkout.
	clock.Advance(RewardCodeValidity)
	if rec, err := svc.CouponByCode(ctx, shop, second.Code); err != nil || rec.Status != CodeStatusRedeemed {
		t.Fatalf("a redeemed code after 30 days = %+v, %v", rec, err)
	}
	third, err := svc.Redeem(ctx, ann, "ann", "c5", "r3")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(RewardCodeValidity)
	if _, err := svc.RedeemCouponCode(ctx, shop, third.Code, "SO-4"); CodeOf(err) != CodeExpired {
		t.Fatalf("a code past its 30 days: %v, want expired", err)
	}
}

// TestPointsStoreCatalogueAndGift: only the shop or an admin replaces the catalogue, bad items are invalid
// naming the field, a gift's claim is fulfilled once (redemption.fulfilled, same id on a replay), and the
// per-user limit answers limit_reached.
func TestPointsStoreCatalogueAndGift(t *testing.T) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 3, 14, 19, 30, 0, 0, time.UTC))
	svc, sink := newPointsStoreService(t, NewMemoryStore(), clock)
	ann := Actor{User: "ann", Role: RoleViewer}
	shop := Actor{User: "shop", Role: RoleService}
	if _, err := svc.SetCatalogue(ctx, ann, storeItems); CodeOf(err) != CodeForbidden {
		t.Fatalf("a viewer replaces the catalogue: %v, want forbidden", err)
	}
	bad := []rewards.Reward{storeItems[0], {ID: "x", Title: "X", Cost: 1, Kind: rewards.KindCoupon}}
	if _, err := svc.SetCatalogue(ctx, shop, bad); CodeOf(err) != CodeInvalid || FieldOf(err) != "items[1].discount_fen" {
		t.Fatalf("coupon without a discount: %v (field %q)", err, FieldOf(err))
	}
	items := append([]rewards.Reward(nil), storeItems...)
	items[1].PerUserLimit = 1
	list, err := svc.SetCatalogue(ctx, Actor{User: "root", Role: RoleAdmin}, items)
	if err != nil || len(list) != 2 || list[1].ID != "mug" || *list[1].Remaining != 3 {
		t.Fatalf("SetCatalogue = %+v, %v", list, err)
	}
	g, err := svc.Redeem(ctx, ann, "ann", "mug", "g1")
	if err != nil || g.ClaimID == "" || g.Code != "" {
		t.Fatalf("gift = %+v, %v", g, err)
	}
	if _, err := svc.Redeem(ctx, ann, "ann", "mug", "g2"); CodeOf(err) != CodeLimitReached {
		t.Fatalf("second mug past per_user_limit 1: %v, want limit_reached", err)
	}
	if _, err := svc.FulfilRedemption(ctx, ann, g.ClaimID); CodeOf(err) != CodeForbidden {
		t.Fatalf("a viewer fulfils: %v, want forbidden", err)
	}
	f1, err := svc.FulfilRedemption(ctx, shop, g.ClaimID)
	if err != nil || f1.FulfilledAt == nil {
		t.Fatalf("fulfil = %+v, %v", f1, err)
	}
	clock.Advance(time.Hour)
	f2, err := svc.FulfilRedemption(ctx, shop, g.ClaimID)
	if err != nil || !f2.FulfilledAt.Equal(*f1.FulfilledAt) {
		t.Fatalf("fulfil again = %+v, %v; want the first time", f2, err)
	}
	if _, err := svc.FulfilRedemption(ctx, shop, "gift-none"); CodeOf(err) != CodeNotFound {
		t.Fatalf("unknown claim: %v, want not_found", err)
	}
	var evs []Event
	for _, ev := range sink.Events() {
		if ev.Type == EventRedemptionFulfilled {
			evs = append(evs, ev)
		}
	}
	if len(evs) != 2 || evs[0].ID != evs[1].ID || evs[0].UserID != "ann" {
		t.Fatalf("redemption.fulfilled events %+v; want two with one id, keyed by ann", evs)
	}
}

// testCouponIndexCode (store suite): a code indexed without a claim (a points-store coupon) is found and
// redeemed like a claimed one, and a second record for the same code does not replace the first.
func testCouponIndexCode(t *testing.T, s Store) {
	ctx := context.Background()
	rec := ClaimedCode{CouponID: "c5", UserID: "ann", DiscountFen: 500, MinSpendFen: 2000, ExpiresAt: storeT0.Add(RewardCodeValidity),
		Status: CodeStatusClaimed, RedemptionID: "r1"}
	noErr(t, s.IndexCouponCode(ctx, "POINTS-CODE-1", rec))
	other := rec
	other.UserID = "bob"
	noErr(t, s.IndexCouponCode(ctx, "POINTS-CODE-1", other))
	got, err := s.CouponByCode(ctx, "POINTS-CODE-1")
	if err != nil || got.UserID != "ann" || got.RedemptionID != "r1" || got.StreamID != "" || got.Status != CodeStatusClaimed || got.DiscountFen != 500 {
		t.Fatalf("CouponByCode = %+v, %v", got, err)
	}
	red, err := s.RedeemCouponCode(ctx, "POINTS-CODE-1", "SO-1", storeT0.Add(time.Hour))
	if err != nil || red.Status != CodeStatusRedeemed || red.OrderID != "SO-1" || red.RedemptionID != "r1" {
		t.Fatalf("RedeemCouponCode = %+v, %v", red, err)
	}
	_, err = s.CouponByCode(ctx, "POINTS-CODE-2")
	isErr(t, err, ErrNotFound)
}
