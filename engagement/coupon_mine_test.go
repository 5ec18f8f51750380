package engagement

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
)

// mineLine is a listed code as one comparable line: code, stream, coupon, title, amounts, expiry, claim time,
// and the record's user and status.
func mineLine(e UserCoupon) string {
	return fmt.Sprintf("%s %s/%s %q %d/%d exp=%s at=%s rec=%s/%s", e.Code, e.StreamID, e.CouponID, e.Title,
		e.DiscountFen, e.MinSpendFen, e.ExpiresAt.UTC().Format(time.RFC3339Nano), e.ClaimedAt.UTC().Format(time.RFC3339Nano),
		e.Record.UserID, e.Record.Status)
}

func wantMine(t *testing.T, s Store, user string, n int, want ...string) []UserCoupon {
	t.Helper()
	got, err := s.UserCoupons(context.Background(), user, n)
	noErr(t, err)
	lines := make([]string, len(got))
	for i, e := range got {
		lines[i] = mineLine(e)
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("UserCoupons(%s, %d):\n got %q\nwant %q", user, n, lines, want)
	}
	return got
}

// testUserCoupons: a claim adds its code to the user's list, newest first, with the drop's title, amounts
// and expiry and the code's index record (claimed, then redeemed with its order); a refused claim adds
// nothing; each user sees their own; n bounds the answer.
func testUserCoupons(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	exp1, exp2 := t0.Add(10*time.Minute), t0.Add(20*time.Minute)
	noErr(t, s.CreateCoupon(ctx, "s1", Coupon{ID: "c1", Title: "满100减20", Stock: 2, OpensAt: t0, ExpiresAt: exp1, DiscountFen: 2000, MinSpendFen: 10000},
		"SHOP-AAA1", "SHOP-BBB2"))
	noErr(t, s.CreateCoupon(ctx, "s2", Coupon{ID: "c2", Title: "Any order", Stock: 1, OpensAt: t0, ExpiresAt: exp2, DiscountFen: 500}))
	wantMine(t, s, "ann", MaxUserCoupons)

	at1, at2 := t0.Add(time.Second+123*time.Microsecond), t0.Add(2*time.Second)
	_, _, err := s.ClaimCoupon(ctx, "s1", "c1", "ann", "IGNORED1", at1)
	noErr(t, err)
	_, _, err = s.ClaimCoupon(ctx, "s2", "c2", "ann", "GENCODE22", at2)
	noErr(t, err)
	_, _, err = s.ClaimCoupon(ctx, "s1", "c1", "ann", "IGNORED2", at2) // a second claim of c1
	isErr(t, err, ErrDuplicate)
	_, _, err = s.ClaimCoupon(ctx, "s2", "c2", "bob", "GENCODE33", at2) // sold out
	isErr(t, err, ErrClosed)
	_, _, err = s.ClaimCoupon(ctx, "s1", "c1", "bob", "IGNORED3", at1)
	noErr(t, err)

	f := func(code, where, title string, d, m int64, exp, at time.Time, user, status string) string {
		return mineLine(UserCoupon{Code: code, StreamID: where[:2], CouponID: where[3:], Title: title, DiscountFen: d, MinSpendFen: m,
			ExpiresAt: exp, ClaimedAt: at, Record: ClaimedCode{UserID: user, Status: status}})
	}
	annS2 := f("GENCODE22", "s2/c2", "Any order", 500, 0, exp2, at2, "ann", CodeStatusClaimed)
	annS1 := f("SHOP-AAA1", "s1/c1", "满100减20", 2000, 10000, exp1, at1, "ann", CodeStatusClaimed)
	got := wantMine(t, s, "ann", MaxUserCoupons, annS2, annS1)
	if r := got[1].Record; r.CouponID != "c1" || r.StreamID != "s1" || r.DiscountFen != 2000 || !r.ExpiresAt.Equal(exp1) {
		t.Fatalf("ann's record of SHOP-AAA1 = %+v", r)
	}
	wantMine(t, s, "ann", 1, annS2)
	wantMine(t, s, "ann", 0)
	wantMine(t, s, "bob", MaxUserCoupons, f("SHOP-BBB2", "s1/c1", "满100减20", 2000, 10000, exp1, at1, "bob", CodeStatusClaimed))
	wantMine(t, s, "carol", MaxUserCoupons)

	_, err = s.RedeemCouponCode(ctx, "SHOP-AAA1", "order-9", t0.Add(time.Minute))
	noErr(t, err)
	got = wantMine(t, s, "ann", MaxUserCoupons, annS2, f("SHOP-AAA1", "s1/c1", "满100减20", 2000, 10000, exp1, at1, "ann", CodeStatusRedeemed))
	if r := got[1].Record; r.OrderID != "order-9" || r.RedeemedAt == nil || !r.RedeemedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("redeemed record = %+v", r)
	}
}

// testUserCouponsBounded: a user's list keeps the newest MaxUserCoupons codes.
func testUserCouponsBounded(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range MaxUserCoupons + 2 {
		id := fmt.Sprintf("c%03d", i)
		noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: id, Title: "T", Stock: 1, OpensAt: storeT0, ExpiresAt: storeT0.Add(time.Hour)}))
		_, _, err := s.ClaimCoupon(ctx, "st", id, "ann", fmt.Sprintf("CODE-%03d", i), storeT0.Add(time.Duration(i)*time.Second))
		noErr(t, err)
	}
	got, err := s.UserCoupons(ctx, "ann", MaxUserCoupons+10)
	noErr(t, err)
	if len(got) != MaxUserCoupons {
		t.Fatalf("%d codes listed, want %d", len(got), MaxUserCoupons)
	}
	if first, last := got[0].Code, got[len(got)-1].Code; first != fmt.Sprintf("CODE-%03d", MaxUserCoupons+1) || last != "CODE-002" {
		t.Fatalf("listed %s … %s, want the newest %d (CODE-%03d … CODE-002)", first, last, MaxUserCoupons, MaxUserCoupons+1)
	}
}

// testUserCouponsLifetime: a listed code lives as long as its index record: StreamTTL after the claim, and
// StreamTTL after its redemption.
func testUserCouponsLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	drop := func(stream string) {
		t.Helper()
		noErr(t, s.CreateCoupon(ctx, stream, Coupon{ID: "c1", Title: "T", Stock: 1, OpensAt: storeT0, ExpiresAt: storeT0.Add(MaxCouponExpiry)}))
	}
	listed := func() []string {
		t.Helper()
		got, err := s.UserCoupons(ctx, "ann", MaxUserCoupons)
		noErr(t, err)
		var codes []string
		for _, e := range got {
			codes = append(codes, e.Code+"/"+e.Record.Status)
		}
		return codes
	}
	drop("s1")
	_, _, err := s.ClaimCoupon(ctx, "s1", "c1", "ann", "AGED-ONE", storeT0)
	noErr(t, err)
	drop("s2")
	_, _, err = s.ClaimCoupon(ctx, "s2", "c1", "ann", "AGED-TWO", storeT0.Add(time.Second))
	noErr(t, err)
	age(DefaultStreamTTL / 2)
	_, err = s.RedeemCouponCode(ctx, "AGED-TWO", "o1", storeT0.Add(time.Minute))
	noErr(t, err)
	age(DefaultStreamTTL/2 - time.Minute)
	drop("s3") // a write, so that a memory store prunes
	if got := listed(); fmt.Sprint(got) != "[AGED-TWO/redeemed AGED-ONE/claimed]" {
		t.Fatalf("a minute before StreamTTL: %v", got)
	}
	age(time.Minute)
	drop("s4")
	if got := listed(); fmt.Sprint(got) != "[AGED-TWO/redeemed]" {
		t.Fatalf("StreamTTL after the claims, half of it after a redemption: %v, want the redeemed code only", got)
	}
	age(DefaultStreamTTL / 2)
	drop("s5")
	if got := listed(); len(got) != 0 {
		t.Fatalf("StreamTTL after the redemption: %v, want none", got)
	}
}

// TestRedisUserCouponsHealOnRetry: on Redis the user's list is written after the claim and the index (it
// lives in the user's cluster slot); a claim whose list write was lost is listed after the user's retry,
// which the claim script answers duplicate.
func TestRedisUserCouponsHealOnRetry(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	ctx := context.Background()
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c1", Title: "T", Stock: 3, OpensAt: storeT0, ExpiresAt: storeT0.Add(time.Minute)}))
	_, code, err := s.ClaimCoupon(ctx, "st", "c1", "ann", "HEAL-CODE1", storeT0)
	noErr(t, err)
	noErr(t, rdb.Del(ctx, s.userCouponsKey("ann")).Err()) // the list write that a crash lost
	if got, err := s.UserCoupons(ctx, "ann", MaxUserCoupons); err != nil || len(got) != 0 {
		t.Fatalf("after the lost write: %+v, %v", got, err)
	}
	_, _, err = s.ClaimCoupon(ctx, "st", "c1", "ann", "HEAL-CODE2", storeT0.Add(time.Second))
	isErr(t, err, ErrDuplicate)
	got, err := s.UserCoupons(ctx, "ann", MaxUserCoupons)
	noErr(t, err)
	if len(got) != 1 || got[0].Code != code || got[0].CouponID != "c1" || got[0].Record.UserID != "ann" {
		t.Fatalf("healed list = %+v", got)
	}
	// Another retry changes nothing: the entry is there once, with the time of the retry that wrote it.
	_, _, err = s.ClaimCoupon(ctx, "st", "c1", "ann", "HEAL-CODE3", storeT0.Add(2*time.Second))
	isErr(t, err, ErrDuplicate)
	if n, err := rdb.ZCard(ctx, s.userCouponsKey("ann")).Result(); err != nil || n != 1 {
		t.Fatalf("list holds %d (%v), want 1", n, err)
	}
	if got, _ := s.UserCoupons(ctx, "ann", MaxUserCoupons); len(got) != 1 || !got[0].ClaimedAt.Equal(storeT0.Add(time.Second)) {
		t.Fatalf("after another retry: %+v", got)
	}
}

// TestMyCoupons: the Service lists a user's drop and points-store codes newest first with the checkout's
// status (claimed, redeemed, expired), to the user, the shop and an admin only, on both backends.
func TestMyCoupons(t *testing.T) {
	for _, b := range []struct {
		name  string
		store func(t *testing.T) Store
	}{
		{"Memory", func(*testing.T) Store { return NewMemoryStore() }},
		{"Redis", newTestRedisStore},
	} {
		t.Run(b.name, func(t *testing.T) { testMyCoupons(t, b.store(t)) })
	}
}

func testMyCoupons(t *testing.T, store Store) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{Now: clock.Now, Catalogue: []rewards.Reward{
		{ID: "cpn5", Title: "¥5 off", Cost: 10, Kind: rewards.KindCoupon, DiscountFen: 500, MinSpendFen: 2000},
		{ID: "mug", Title: "Mug", Cost: 10, Kind: rewards.KindGift},
	}})
	noErr(t, err)
	svc := New(Config{Now: clock.Now, Ledger: ledger}, store, NewMemorySink())
	host := Actor{User: "host", Role: RoleHost}
	ann, bob := viewer("ann"), viewer("bob")
	shop, admin := Actor{User: "shop", Role: RoleService}, Actor{User: "root", Role: RoleAdmin}
	_, err = svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Show"})
	noErr(t, err)
	short, _, err := svc.DropCoupon(ctx, host, "s1", CouponSpec{Title: "Flash", Stock: 5, ExpiresS: 60, DiscountFen: 1000, MinSpendFen: 5000})
	noErr(t, err)
	long, _, err := svc.DropCoupon(ctx, host, "s1", CouponSpec{Title: "满100减20", Stock: 5, ExpiresS: 3600, DiscountFen: 2000, MinSpendFen: 10000})
	noErr(t, err)
	claim := func(c Coupon) string {
		t.Helper()
		out, err := svc.ClaimCoupon(ctx, ann, "s1", c.ID)
		noErr(t, err)
		clock.Advance(time.Second)
		return out.Reply["code"].(string)
	}
	flash := claim(short)
	big := claim(long)
	_, err = ledger.Award(ctx, rewards.Award{Key: "seed", User: "ann", Points: 100})
	noErr(t, err)
	bought, err := svc.Redeem(ctx, ann, "ann", "cpn5", "req-1")
	noErr(t, err)
	clock.Advance(time.Second)
	_, err = svc.Redeem(ctx, ann, "ann", "mug", "req-2") // a gift: no code, not listed
	noErr(t, err)
	_, err = svc.RedeemCouponCode(ctx, shop, big, "order-1")
	noErr(t, err)
	clock.Advance(2 * time.Minute) // the flash code is past its expiry

	for _, who := range []Actor{bob, host, {Role: RoleViewer}} {
		if _, err := svc.MyCoupons(ctx, who, "ann"); CodeOf(err) != CodeForbidden {
			t.Fatalf("%+v reads ann's coupons: %v, want forbidden", who, err)
		}
	}
	for _, who := range []Actor{ann, shop, admin} {
		got, err := svc.MyCoupons(ctx, who, "ann")
		noErr(t, err)
		var lines []string
		for _, m := range got {
			lines = append(lines, fmt.Sprintf("%s %s %s%s %q %d/%d %s", m.Code, m.Source, m.CouponID, m.RewardID, m.Title, m.DiscountFen, m.MinSpendFen, m.Status))
		}
		want := []string{
			fmt.Sprintf("%s store cpn5 %q 500/2000 claimed", bought.Code, "¥5 off"),
			fmt.Sprintf("%s drop %s %q 2000/10000 redeemed", big, long.ID, "满100减20"),
			fmt.Sprintf("%s drop %s %q 1000/5000 expired", flash, short.ID, "Flash"),
		}
		if fmt.Sprint(lines) != fmt.Sprint(want) {
			t.Fatalf("%s reads ann's coupons:\n got %q\nwant %q", who.User, lines, want)
		}
		if got[1].RedeemedAt == nil || got[1].StreamID != "s1" || got[0].StreamID != "" || got[0].ExpiresAt == nil ||
			!got[0].ExpiresAt.Equal(bought.At.Add(RewardCodeValidity)) || !got[2].ExpiresAt.Equal(short.ExpiresAt) {
			t.Fatalf("details: %+v", got)
		}
	}
	if got, err := svc.MyCoupons(ctx, bob, "bob"); err != nil || len(got) != 0 {
		t.Fatalf("bob's own: %+v, %v", got, err)
	}
}

// TestMyCouponsSharedShopCode: a shop that hands out the same code in two drops gets one index record, the
// first claim's; the second claimer's list shows the code by its own drop's expiry, never the first claimer's
// redemption.
func TestMyCouponsSharedShopCode(t *testing.T) {
	for _, b := range []struct {
		name  string
		store func(t *testing.T) Store
	}{
		{"Memory", func(*testing.T) Store { return NewMemoryStore() }},
		{"Redis", newTestRedisStore},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clock := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
			svc := New(Config{Now: clock.Now}, b.store(t), NewMemorySink())
			host := Actor{User: "host", Role: RoleHost}
			for _, id := range []string{"s1", "s2"} {
				_, err := svc.CreateStream(ctx, host, StreamSpec{ID: id, Title: "Show"})
				noErr(t, err)
			}
			first, _, err := svc.DropCoupon(ctx, host, "s1", CouponSpec{Title: "A", ExpiresS: 600, Codes: []string{"DUP-CODE1"}})
			noErr(t, err)
			second, _, err := svc.DropCoupon(ctx, host, "s2", CouponSpec{Title: "B", ExpiresS: 60, Codes: []string{"DUP-CODE1"}})
			noErr(t, err)
			_, err = svc.ClaimCoupon(ctx, viewer("bob"), "s1", first.ID)
			noErr(t, err)
			_, err = svc.ClaimCoupon(ctx, viewer("ann"), "s2", second.ID)
			noErr(t, err)
			_, err = svc.RedeemCouponCode(ctx, Actor{User: "shop", Role: RoleService}, "DUP-CODE1", "order-1")
			noErr(t, err)
			status := func(user string) string {
				t.Helper()
				got, err := svc.MyCoupons(ctx, viewer(user), user)
				noErr(t, err)
				if len(got) != 1 || got[0].Code != "DUP-CODE1" {
					t.Fatalf("%s's coupons = %+v", user, got)
				}
				return got[0].Status
			}
			if a, b := status("ann"), status("bob"); a != CodeStatusClaimed || b != CodeStatusRedeemed {
				t.Fatalf("ann %s, bob %s; want ann's claimed (the redemption was bob's), bob's redeemed", a, b)
			}
			clock.Advance(61 * time.Second) // past the second drop's expiry
			if a := status("ann"); a != CodeStatusExpired {
				t.Fatalf("ann's code past its drop's expiry: %s, want expired", a)
			}
		})
	}
}
