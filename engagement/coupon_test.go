package engagement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCouponSpecInvalid(t *testing.T) {
	tests := []struct {
		name  string
		spec  CouponSpec
		field string
	}{
		{"no title", CouponSpec{Stock: 1, ExpiresS: 60}, "title"},
		{"no stock", CouponSpec{Title: "10% off", ExpiresS: 60}, "stock"},
		{"too much stock", CouponSpec{Title: "10% off", Stock: MaxCouponStock + 1, ExpiresS: 60}, "stock"},
		{"expires too soon", CouponSpec{Title: "10% off", Stock: 5, ExpiresS: 9}, "expires_s"},
		{"expires too late", CouponSpec{Title: "10% off", Stock: 5, ExpiresS: 86401}, "expires_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFixture(t, 0)
			_, _, err := f.svc.DropCoupon(context.Background(), f.host1, "s1", tt.spec)
			if !isInvalidField(err, tt.field) {
				t.Fatalf("err = %#v, want invalid with field %q", err, tt.field)
			}
		})
	}
}

func TestCouponConcurrentClaims(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	c, out, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "Flash 50% off", Stock: 10, ExpiresS: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(framesOf(out.Broadcast, "coupon.drop")) != 1 {
		t.Fatalf("drop outcome = %+v", out)
	}
	var (
		mu     sync.Mutex
		codes  = map[string]string{}
		closed int
		wg     sync.WaitGroup
	)
	for i := range 200 {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", i)
			out, err := f.svc.ClaimCoupon(ctx, viewer(user), "s1", c.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				codes[user] = out.Reply["code"].(string)
			case CodeOf(err) == CodeClosed:
				closed++
			default:
				t.Errorf("claim: %v", err)
			}
		})
	}
	wg.Wait()
	if len(codes) != 10 || closed != 190 {
		t.Fatalf("%d claimed, %d closed; want 10 and 190", len(codes), closed)
	}
	unique := map[string]bool{}
	for _, code := range codes {
		if len(code) != 12 || unique[code] {
			t.Fatalf("code %q is malformed or repeated", code)
		}
		unique[code] = true
	}
	got, err := f.store.Coupon(ctx, "s1", c.ID)
	if err != nil || got.Remaining != 0 {
		t.Fatalf("remaining = %d, %v", got.Remaining, err)
	}
	if n := len(f.eventsOf(EventCouponClaimed)); n != 10 {
		t.Fatalf("%d coupon.claimed events, want 10", n)
	}
}

func TestCouponClaimRules(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	c, _, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "Free shipping", Stock: 100, ExpiresS: 10})
	if err != nil {
		t.Fatal(err)
	}
	claims := []struct {
		after time.Duration
		user  string
		id    string
		code  Code
	}{
		{0, "a", c.ID, ""},
		{0, "a", c.ID, CodeDuplicate},
		{0, "b", "missing", CodeNotFound},
		{0, "b", "", CodeInvalid},
		{9 * time.Second, "b", c.ID, ""},
		{time.Second, "c", c.ID, CodeClosed}, // expired
	}
	for _, cl := range claims {
		f.clock.Advance(cl.after)
		_, err := f.svc.ClaimCoupon(ctx, viewer(cl.user), "s1", cl.id)
		wantHostCode(t, err, cl.code)
	}
	if live, err := f.svc.Coupons(ctx, "s1"); err != nil || len(live) != 0 {
		t.Fatalf("live coupons after expiry = %+v, %v", live, err)
	}
}

func TestCouponSnapshotAndWelcome(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	c, _, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "Bundle", Stock: 3, ExpiresS: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ClaimCoupon(ctx, viewer("a"), "s1", c.ID); err != nil {
		t.Fatal(err)
	}
	snap, err := f.svc.Snapshot(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	stock := framesOf(snap, "coupon.stock")
	if len(stock) != 1 || fmt.Sprint(stock[0].Data) != fmt.Sprint(map[string]any{"id": c.ID, "remaining": int64(2)}) {
		t.Fatalf("coupon.stock = %+v", stock)
	}
	w, err := f.svc.Join(ctx, viewer("late"), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if cs, ok := w.Coupons.([]welcomeCoupon); !ok || len(cs) != 1 || cs[0].Remaining != 2 || cs[0].YourCode != "" {
		t.Fatalf("welcome coupons = %#v", w.Coupons)
	}
	// The claimer, reconnecting after a lost ack, gets the code back in the welcome and in the duplicate.
	claimed, err := f.svc.Join(ctx, viewer("a"), "s1")
	if err != nil {
		t.Fatal(err)
	}
	code := claimed.Coupons.([]welcomeCoupon)[0].YourCode
	if len(code) < 6 {
		t.Fatalf("claimer's welcome has code %q", code)
	}
	_, err = f.svc.ClaimCoupon(ctx, viewer("a"), "s1", c.ID)
	if CodeOf(err) != CodeDuplicate || !strings.Contains(MessageOf(err), code) {
		t.Fatalf("retried claim: %v, want duplicate naming the code %s", err, code)
	}
}

func testCouponStore(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	c := Coupon{ID: "c1", Title: "T", Stock: 10, OpensAt: t0, ExpiresAt: t0.Add(time.Minute), ExpiresMS: t0.Add(time.Minute).UnixMilli()}
	noErr(t, s.CreateCoupon(ctx, "st", c))
	isErr(t, s.CreateCoupon(ctx, "st", c), ErrDuplicate)
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c2", Title: "U", Stock: 1, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	_, err := s.ClaimCoupon(ctx, "st", "c1", "u0", "CODE0", t0.Add(-time.Second))
	isErr(t, err, ErrClosed)
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed := 0
	for i := range 50 {
		wg.Go(func() {
			_, err := s.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), fmt.Sprintf("CODE%d", i), t0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				claimed++
			} else if !errors.Is(err, ErrClosed) {
				t.Errorf("claim: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.Coupon(ctx, "st", "c1")
	noErr(t, err)
	if claimed != 10 || got.Remaining != 0 || got.Stock != 10 {
		t.Fatalf("claimed %d, coupon %+v", claimed, got)
	}
	_, err = s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0.Add(time.Minute))
	isErr(t, err, ErrClosed) // expired
	after, err := s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0)
	noErr(t, err)
	if after.Remaining != 0 {
		t.Fatalf("remaining after claim = %d", after.Remaining)
	}
	_, err = s.ClaimCoupon(ctx, "st", "c2", "a", "Y", t0)
	isErr(t, err, ErrDuplicate)
	for _, tc := range []struct{ id, user, want string }{{"c2", "a", "X"}, {"c2", "b", ""}, {"c9", "a", ""}} {
		code, err := s.CouponCode(ctx, "st", tc.id, tc.user)
		noErr(t, err)
		if code != tc.want {
			t.Fatalf("CouponCode(%s, %s) = %q, want %q (the first claim's code kept)", tc.id, tc.user, code, tc.want)
		}
	}
	_, err = s.ClaimCoupon(ctx, "st", "c9", "a", "Y", t0)
	isErr(t, err, ErrNotFound)
	all, err := s.Coupons(ctx, "st")
	noErr(t, err)
	if len(all) != 2 || all[0].ID != "c1" || all[1].ID != "c2" || !all[0].ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("coupons = %+v", all)
	}
}

// couponStoreSuite is CouponStore's part of the Store conformance suite (runStoreSuite).
var couponStoreSuite = []storeCase{
	{"CreateClaim", testCouponStore},
}
