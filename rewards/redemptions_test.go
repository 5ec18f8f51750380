package rewards

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// testRedemptionsListed: a user's redemptions are listed newest first with their codes and claims, a replay
// adds none, another user's are not among them, and the ledger filters them by kind and bounds them.
func testRedemptionsListed(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0)
	l := newTestLedger(t, newStore(t), clock, func(c *Config) {
		c.Catalogue = []Reward{
			{ID: "cpn", Title: "¥5 off", Cost: 10, Kind: KindCoupon, DiscountFen: 500, MinSpendFen: 2000},
			{ID: "gift", Title: "mug", Cost: 10, Kind: KindGift},
		}
	})
	mustAward(t, l, Award{Key: "seed-u", User: "u", Points: 100})
	mustAward(t, l, Award{Key: "seed-v", User: "v", Points: 100})
	if rs, err := l.Redemptions(ctx, "u", "", 0); err != nil || len(rs) != 0 {
		t.Fatalf("before any redemption: %+v, %v", rs, err)
	}
	redeem := func(user, reward, req, code string) {
		t.Helper()
		if _, err := l.RedeemItem(ctx, RedeemRequest{User: user, RewardID: reward, RequestID: req, Code: code}); err != nil {
			t.Fatalf("redeem %s %s: %v", user, req, err)
		}
		clock.Advance(time.Minute)
	}
	redeem("u", "cpn", "r1", "CODE-ONE")
	redeem("u", "gift", "r2", "")
	redeem("v", "cpn", "r1", "CODE-VEE")
	redeem("u", "cpn", "r3", "CODE-THREE")
	redeem("u", "cpn", "r1", "CODE-AGAIN") // a replay: nothing new

	all, err := l.Redemptions(ctx, "u", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, r.ID+"/"+r.RewardID+"/"+r.Code+"/"+r.User)
	}
	want := []string{"r3/cpn/CODE-THREE/u", "r2/gift//u", "r1/cpn/CODE-ONE/u"}
	if len(got) != len(want) {
		t.Fatalf("redemptions of u = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("redemptions of u = %v, want %v", got, want)
		}
	}
	if !all[0].At.Equal(t0.Add(3*time.Minute)) || all[0].DiscountFen != 500 || all[0].MinSpendFen != 2000 || all[0].Kind != KindCoupon {
		t.Fatalf("newest = %+v", all[0])
	}
	if all[1].ClaimID != ClaimID("u", "r2") {
		t.Fatalf("gift claim = %q", all[1].ClaimID)
	}
	coupons, err := l.Redemptions(ctx, "u", KindCoupon, 1)
	if err != nil || len(coupons) != 1 || coupons[0].Code != "CODE-THREE" {
		t.Fatalf("newest coupon of u = %+v, %v", coupons, err)
	}
	if rs, err := l.Redemptions(ctx, "nobody", "", 0); err != nil || len(rs) != 0 {
		t.Fatalf("unknown user: %+v, %v", rs, err)
	}
}

// TestRedeemRefusesNUL: a NUL in the user or request id (it separates them in a hold and a gift's claim id,
// where two pairs would then read alike) is ErrInvalid, before anything is read or written.
func TestRedeemRefusesNUL(t *testing.T) {
	l := newTestLedger(t, NewMemoryStore(), testenv.NewClock(t0), nil)
	for _, req := range []RedeemRequest{{User: "u\x00a", RewardID: "small", RequestID: "r"}, {User: "u", RewardID: "small", RequestID: "\x00r"}} {
		if _, err := l.RedeemItem(context.Background(), req); !errors.Is(err, ErrInvalid) {
			t.Errorf("redeem %q / %q: %v, want ErrInvalid", req.User, req.RequestID, err)
		}
	}
	if _, err := l.Forfeit(context.Background(), "u\x00a", "erasure"); !errors.Is(err, ErrInvalid) {
		t.Errorf("forfeit with a NUL: %v, want ErrInvalid", err)
	}
}
