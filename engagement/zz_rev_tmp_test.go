package engagement

import (
	"context"
	"testing"
	"time"
)

func TestRevShopAwardLateRetry(t *testing.T) {
	svc, _, clock := newTestService(t)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	review := func(key string) (ShopAwardResult, error) {
		r, _, err := svc.AwardShopPoints(ctx, shop, ShopAward{UserID: "ann", Kind: "review", Key: key})
		return r, err
	}
	for _, k := range []string{"d1-a", "d1-b", "d1-c"} {
		if _, err := review(k); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(72 * time.Hour)
	for _, k := range []string{"d4-a", "d4-b", "d4-c"} {
		if _, err := review(k); err != nil {
			t.Fatal(err)
		}
	}
	r, err := review("d1-a")
	t.Logf("retry of day-1 key on day 4 with slots full: %+v err=%v", r, err)
	clock.Advance(24 * time.Hour)
	r, err = review("d1-b")
	t.Logf("retry of day-1 key on day 5: %+v err=%v", r, err)
	for _, k := range []string{"d5-a", "d5-b", "d5-c"} {
		r, err := review(k)
		t.Logf("%s: %+v err=%v", k, r, err)
	}
}
