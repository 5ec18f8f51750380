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
		{"negative discount", CouponSpec{Title: "t", Stock: 5, ExpiresS: 60, DiscountFen: -1}, "discount_fen"},
		{"discount too large", CouponSpec{Title: "t", Stock: 5, ExpiresS: 60, DiscountFen: MaxCouponDiscountFen + 1}, "discount_fen"},
		{"negative threshold", CouponSpec{Title: "t", Stock: 5, ExpiresS: 60, DiscountFen: 100, MinSpendFen: -1}, "min_spend_fen"},
		{"threshold too large", CouponSpec{Title: "t", Stock: 5, ExpiresS: 60, DiscountFen: 100, MinSpendFen: MaxCouponMinSpendFen + 1}, "min_spend_fen"},
		{"threshold below discount", CouponSpec{Title: "t", Stock: 5, ExpiresS: 60, DiscountFen: 2000, MinSpendFen: 1000}, "min_spend_fen"},
		{"empty codes", CouponSpec{Title: "t", ExpiresS: 60, Codes: []string{}}, "codes"},
		{"too many codes", CouponSpec{Title: "t", ExpiresS: 60, Codes: manyCodes(MaxCouponCodes + 1)}, "codes"},
		{"short code", CouponSpec{Title: "t", ExpiresS: 60, Codes: []string{"ABCDE"}}, "codes"},
		{"long code", CouponSpec{Title: "t", ExpiresS: 60, Codes: []string{strings.Repeat("A", 33)}}, "codes"},
		{"lowercase code", CouponSpec{Title: "t", ExpiresS: 60, Codes: []string{"abcdef"}}, "codes"},
		{"repeated code", CouponSpec{Title: "t", ExpiresS: 60, Codes: []string{"ABCDEF", "ABCDEF"}}, "codes"},
		{"stock not the codes", CouponSpec{Title: "t", Stock: 3, ExpiresS: 60, Codes: []string{"ABCDEF", "ABCDEG"}}, "stock"},
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

// manyCodes returns n distinct valid shop codes.
func manyCodes(n int) []string {
	codes := make([]string, n)
	for i := range codes {
		codes[i] = fmt.Sprintf("CODE-%06d", i)
	}
	return codes
}

// TestCouponCodesAtCheckout: a drop with the shop's codes and a value; claims hand the codes out in order;
// the shop (and only the shop) looks a code up and redeems it once; coupon.redeemed carries no code.
func TestCouponCodesAtCheckout(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	c, _, err := f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{
		Title: "满100减20", ExpiresS: 60, DiscountFen: 2000, MinSpendFen: 10000, Codes: []string{"SPRING-A1", "SPRING-B2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Stock != 2 || c.DiscountFen != 2000 || c.MinSpendFen != 10000 {
		t.Fatalf("coupon = %+v", c)
	}
	out, err := f.svc.ClaimCoupon(ctx, viewer("ann"), "s1", c.ID)
	if err != nil || out.Reply["code"] != "SPRING-A1" {
		t.Fatalf("claim = %+v, %v; want the first shop code", out.Reply, err)
	}
	if _, err := f.svc.CouponByCode(ctx, shop, "SPRING-B2"); CodeOf(err) != CodeNotFound {
		t.Fatalf("unclaimed shop code: %v, want not_found", err)
	}
	for _, who := range []Actor{viewer("ann"), f.host1} {
		if _, err := f.svc.CouponByCode(ctx, who, "SPRING-A1"); CodeOf(err) != CodeForbidden {
			t.Fatalf("lookup by %s: %v, want forbidden", who.Role, err)
		}
		if _, err := f.svc.RedeemCouponCode(ctx, who, "SPRING-A1", "o-1"); CodeOf(err) != CodeForbidden {
			t.Fatalf("redeem by %s: %v, want forbidden", who.Role, err)
		}
	}
	r, err := f.svc.CouponByCode(ctx, shop, "SPRING-A1")
	if err != nil || r.Code != "SPRING-A1" || r.UserID != "ann" || r.Status != CodeStatusClaimed || r.DiscountFen != 2000 {
		t.Fatalf("lookup = %+v, %v", r, err)
	}
	if _, err := f.svc.RedeemCouponCode(ctx, shop, "SPRING-A1", ""); CodeOf(err) != CodeInvalid {
		t.Fatalf("redeem without order: %v, want invalid", err)
	}
	red, err := f.svc.RedeemCouponCode(ctx, shop, "SPRING-A1", "o-1")
	if err != nil || red.Status != CodeStatusRedeemed || red.OrderID != "o-1" {
		t.Fatalf("redeem = %+v, %v", red, err)
	}
	again, err := f.svc.RedeemCouponCode(ctx, shop, "SPRING-A1", "o-1")
	if err != nil || fmt.Sprint(again) != fmt.Sprint(red) {
		t.Fatalf("replay = %+v, %v; want %+v", again, err, red)
	}
	_, err = f.svc.RedeemCouponCode(ctx, shop, "SPRING-A1", "o-2")
	if CodeOf(err) != CodeConflict || !strings.Contains(MessageOf(err), `"o-1"`) {
		t.Fatalf("another order: %v, want conflict naming o-1", err)
	}
	evs := f.eventsOf(EventCouponRedeemed)
	if len(evs) != 2 || evs[0].ID != evs[1].ID || evs[0].UserID != "ann" || evs[0].Subject != "s1" {
		t.Fatalf("coupon.redeemed events = %+v; want the redemption and its replay, same id, keyed by ann", evs)
	}
	if strings.Contains(string(evs[0].Data), "SPRING") {
		t.Fatalf("event carries the code: %s", evs[0].Data)
	}

	// Bob's code expires with the drop: the lookup says so and a redemption is refused expired.
	if _, err := f.svc.ClaimCoupon(ctx, viewer("bob"), "s1", c.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if r, err := f.svc.CouponByCode(ctx, shop, "SPRING-B2"); err != nil || r.Status != CodeStatusExpired {
		t.Fatalf("lookup after expiry = %+v, %v", r, err)
	}
	if _, err := f.svc.RedeemCouponCode(ctx, shop, "SPRING-B2", "o-3"); CodeOf(err) != CodeExpired {
		t.Fatalf("redeem after expiry: %v, want expired", err)
	}
	if r, err := f.svc.CouponByCode(ctx, shop, "SPRING-A1"); err != nil || r.Status != CodeStatusRedeemed {
		t.Fatalf("redeemed code after expiry = %+v, %v", r, err)
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
	_, _, err := s.ClaimCoupon(ctx, "st", "c1", "u0", "CODE0", t0.Add(-time.Second))
	isErr(t, err, ErrClosed)
	var wg sync.WaitGroup
	var mu sync.Mutex
	claimed := 0
	for i := range 50 {
		wg.Go(func() {
			_, _, err := s.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), fmt.Sprintf("CODE%d", i), t0)
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
	_, _, err = s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0.Add(time.Minute))
	isErr(t, err, ErrClosed) // expired
	after, _, err := s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0)
	noErr(t, err)
	if after.Remaining != 0 {
		t.Fatalf("remaining after claim = %d", after.Remaining)
	}
	_, _, err = s.ClaimCoupon(ctx, "st", "c2", "a", "Y", t0)
	isErr(t, err, ErrDuplicate)
	for _, tc := range []struct{ id, user, want string }{{"c2", "a", "X"}, {"c2", "b", ""}, {"c9", "a", ""}} {
		code, err := s.CouponCode(ctx, "st", tc.id, tc.user)
		noErr(t, err)
		if code != tc.want {
			t.Fatalf("CouponCode(%s, %s) = %q, want %q (the first claim's code kept)", tc.id, tc.user, code, tc.want)
		}
	}
	_, _, err = s.ClaimCoupon(ctx, "st", "c9", "a", "Y", t0)
	isErr(t, err, ErrNotFound)
	all, err := s.Coupons(ctx, "st")
	noErr(t, err)
	if len(all) != 2 || all[0].ID != "c1" || all[1].ID != "c2" || !all[0].ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("coupons = %+v", all)
	}
}

// testCouponShopCodes: a coupon created with the shop's codes hands them out in order, each to one user
// however many claims race, and a shop code is unknown to CouponByCode until it is claimed.
func testCouponShopCodes(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	codes := []string{"SHOP-0001", "SHOP-0002", "SHOP-0003", "SHOP-0004", "SHOP-0005"}
	c := Coupon{ID: "c1", Title: "T", Stock: 5, OpensAt: t0, ExpiresAt: t0.Add(time.Minute), DiscountFen: 2000, MinSpendFen: 10000}
	noErr(t, s.CreateCoupon(ctx, "st", c, codes...))
	_, err := s.CouponByCode(ctx, "SHOP-0001")
	isErr(t, err, ErrNotFound) // not claimed yet
	_, first, err := s.ClaimCoupon(ctx, "st", "c1", "u0", "IGNORED1", t0)
	noErr(t, err)
	if first != "SHOP-0001" {
		t.Fatalf("first claim got %q, want the first shop code", first)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		given = map[string]string{"SHOP-0001": "u0"} // code → user
	)
	for i := 1; i <= 20; i++ {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", i)
			_, code, err := s.ClaimCoupon(ctx, "st", "c1", user, "IGNORED", t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if prev, ok := given[code]; ok {
					t.Errorf("code %s given to %s and %s", code, prev, user)
				}
				given[code] = user
			case !errors.Is(err, ErrSoldOut):
				t.Errorf("claim: %v", err)
			}
		})
	}
	wg.Wait()
	if len(given) != len(codes) {
		t.Fatalf("codes given: %v, want each of %v once", given, codes)
	}
	for _, code := range codes {
		user, ok := given[code]
		if !ok {
			t.Fatalf("code %s never given", code)
		}
		got, err := s.CouponCode(ctx, "st", "c1", user)
		noErr(t, err)
		r, err := s.CouponByCode(ctx, code)
		noErr(t, err)
		if got != code || r.UserID != user || r.CouponID != "c1" || r.StreamID != "st" || r.DiscountFen != 2000 || r.MinSpendFen != 10000 {
			t.Fatalf("code %s: CouponCode(%s) = %q, record %+v", code, user, got, r)
		}
	}
}

// testCouponCodeRedeem: lookup of a claimed code, redeem once, the same order again, another order, expiry.
func testCouponCodeRedeem(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	exp := t0.Add(time.Minute)
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c1", Title: "T", Stock: 10, OpensAt: t0, ExpiresAt: exp, DiscountFen: 500}))
	_, _, err := s.ClaimCoupon(ctx, "st", "c1", "ann", "ANNCODE1", t0)
	noErr(t, err)
	_, _, err = s.ClaimCoupon(ctx, "st", "c1", "bob", "BOBCODE1", t0)
	noErr(t, err)

	r, err := s.CouponByCode(ctx, "ANNCODE1")
	noErr(t, err)
	want := ClaimedCode{CouponID: "c1", StreamID: "st", UserID: "ann", DiscountFen: 500, ExpiresAt: exp, Status: CodeStatusClaimed}
	if r.OrderID != "" || r.RedeemedAt != nil || !r.ExpiresAt.Equal(exp) {
		t.Fatalf("record = %+v", r)
	}
	r.ExpiresAt = exp
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Fatalf("record = %+v, want %+v", r, want)
	}
	for _, unknown := range []string{"NOPE-NOPE", "ANNCODE2", "anncode1"} {
		_, err = s.CouponByCode(ctx, unknown)
		isErr(t, err, ErrNotFound)
		_, err = s.RedeemCouponCode(ctx, unknown, "o1", t0)
		isErr(t, err, ErrNotFound)
	}

	at := t0.Add(10 * time.Second)
	red, err := s.RedeemCouponCode(ctx, "ANNCODE1", "order-1", at)
	noErr(t, err)
	if red.Status != CodeStatusRedeemed || red.OrderID != "order-1" || red.RedeemedAt == nil || !red.RedeemedAt.Equal(at) {
		t.Fatalf("redeemed = %+v", red)
	}
	again, err := s.RedeemCouponCode(ctx, "ANNCODE1", "order-1", at.Add(time.Second))
	noErr(t, err)
	if again.OrderID != "order-1" || again.RedeemedAt == nil || !again.RedeemedAt.Equal(at) {
		t.Fatalf("replay = %+v, want the first redemption", again)
	}
	_, err = s.RedeemCouponCode(ctx, "ANNCODE1", "order-2", at)
	isErr(t, err, ErrConflict)
	looked, err := s.CouponByCode(ctx, "ANNCODE1")
	noErr(t, err)
	if looked.Status != CodeStatusRedeemed || looked.OrderID != "order-1" || !looked.RedeemedAt.Equal(at) {
		t.Fatalf("lookup after redeem = %+v", looked)
	}

	// Past its expiry: an unredeemed code is refused, a redeemed one still answers its own order.
	_, err = s.RedeemCouponCode(ctx, "BOBCODE1", "order-3", exp)
	isErr(t, err, ErrExpired)
	_, err = s.RedeemCouponCode(ctx, "ANNCODE1", "order-1", exp.Add(time.Second))
	noErr(t, err)
	_, err = s.RedeemCouponCode(ctx, "ANNCODE1", "order-3", exp.Add(time.Second))
	isErr(t, err, ErrConflict)
	bob, err := s.CouponByCode(ctx, "BOBCODE1")
	noErr(t, err)
	if bob.Status != CodeStatusClaimed || bob.OrderID != "" {
		t.Fatalf("expired code changed: %+v", bob)
	}
}

// testCouponCodeConcurrentRedeem: 20 redemptions of one code with distinct orders at once: exactly one wins.
func testCouponCodeConcurrentRedeem(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c1", Title: "T", Stock: 1, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	_, _, err := s.ClaimCoupon(ctx, "st", "c1", "ann", "RACE-CODE", t0)
	noErr(t, err)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		winners   []string
		conflicts int
	)
	for i := range 20 {
		wg.Go(func() {
			order := fmt.Sprintf("order-%d", i)
			r, err := s.RedeemCouponCode(ctx, "RACE-CODE", order, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && r.OrderID == order:
				winners = append(winners, order)
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("redeem %s: %+v, %v", order, r, err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 || conflicts != 19 {
		t.Fatalf("winners %v, %d conflicts; want one winner and 19 conflicts", winners, conflicts)
	}
	r, err := s.CouponByCode(ctx, "RACE-CODE")
	noErr(t, err)
	if r.OrderID != winners[0] {
		t.Fatalf("stored order %q, winner %q", r.OrderID, winners[0])
	}
}

// couponStoreSuite is CouponStore's part of the Store conformance suite (runStoreSuite).
var couponStoreSuite = []storeCase{
	{"CreateClaim", testCouponStore},
	{"ShopCodes", testCouponShopCodes},
	{"CodeLookupRedeem", testCouponCodeRedeem},
	{"CodeConcurrentRedeem", testCouponCodeConcurrentRedeem},
	{"ManyShopCodes", testCouponManyShopCodes},
	{"IndexCode", testCouponIndexCode}, // points_store_test.go
	{"UserCoupons", testUserCoupons},   // coupon_mine_test.go
	{"UserCouponsBounded", testUserCouponsBounded},
}

// testCouponManyShopCodes: a drop of the most codes a shop may supply is stored whole and handed out in order.
func testCouponManyShopCodes(t *testing.T, s Store) {
	ctx := context.Background()
	codes := manyCodes(MaxCouponCodes)
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c1", Title: "T", Stock: MaxCouponCodes, OpensAt: storeT0, ExpiresAt: storeT0.Add(time.Minute)}, codes...))
	for i, want := range []string{codes[0], codes[1]} {
		_, code, err := s.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), "IGNORED", storeT0)
		noErr(t, err)
		if code != want {
			t.Fatalf("claim %d got %q, want %q", i, code, want)
		}
	}
	c, err := s.Coupon(ctx, "st", "c1")
	noErr(t, err)
	if c.Remaining != MaxCouponCodes-2 {
		t.Fatalf("remaining = %d", c.Remaining)
	}
}

var couponAgedSuite = []agedCase{
	{"CodeLifetime", testCouponCodeLifetime},
	{"UserCouponsLifetime", testUserCouponsLifetime}, // coupon_mine_test.go
}

// testCouponCodeLifetime: a claimed code's index record lives StreamTTL after the claim, as its coupon.
func testCouponCodeLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	drop := func(stream string) {
		t.Helper()
		noErr(t, s.CreateCoupon(ctx, stream, Coupon{ID: "c1", Title: "T", Stock: 1, OpensAt: storeT0, ExpiresAt: storeT0.Add(MaxCouponExpiry)}))
	}
	drop("s1")
	_, _, err := s.ClaimCoupon(ctx, "s1", "c1", "ann", "AGED-CODE", storeT0)
	noErr(t, err)
	age(DefaultStreamTTL - time.Minute)
	drop("s2") // a write, so that a memory store prunes
	if _, err := s.CouponByCode(ctx, "AGED-CODE"); err != nil {
		t.Fatalf("a minute before StreamTTL: %v", err)
	}
	age(time.Minute)
	drop("s3")
	_, err = s.CouponByCode(ctx, "AGED-CODE")
	isErr(t, err, ErrNotFound)
	_, err = s.RedeemCouponCode(ctx, "AGED-CODE", "o1", storeT0)
	isErr(t, err, ErrNotFound)
}

// TestRedisCouponCodeIndexHealsOnRetry: on Redis the codes index is written after the claim's script (it
// lives in another cluster slot); a claim whose index write was lost is indexed by the user's retry, which
// the claim script answers duplicate, and an existing record (a redemption) is never overwritten.
func TestRedisCouponCodeIndexHealsOnRetry(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	ctx := context.Background()
	t0 := storeT0
	noErr(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c1", Title: "T", Stock: 3, OpensAt: t0, ExpiresAt: t0.Add(time.Minute), DiscountFen: 100},
		"HEAL-0001", "HEAL-0002", "HEAL-0003"))
	_, code, err := s.ClaimCoupon(ctx, "st", "c1", "ann", "", t0)
	noErr(t, err)
	noErr(t, rdb.Del(ctx, s.couponCodeIndexKey(code)).Err()) // the index write that a crash lost
	_, err = s.CouponByCode(ctx, code)
	isErr(t, err, ErrNotFound)
	_, _, err = s.ClaimCoupon(ctx, "st", "c1", "ann", "", t0)
	isErr(t, err, ErrDuplicate)
	r, err := s.CouponByCode(ctx, code)
	noErr(t, err)
	if r.UserID != "ann" || r.CouponID != "c1" || r.DiscountFen != 100 {
		t.Fatalf("healed record = %+v", r)
	}
	_, err = s.RedeemCouponCode(ctx, code, "o1", t0)
	noErr(t, err)
	_, _, err = s.ClaimCoupon(ctx, "st", "c1", "ann", "", t0)
	isErr(t, err, ErrDuplicate)
	if r, err := s.CouponByCode(ctx, code); err != nil || r.OrderID != "o1" {
		t.Fatalf("record after another retry = %+v, %v; want the redemption kept", r, err)
	}
	if n, err := rdb.LLen(ctx, s.couponKey("st", "c1")+":pool").Result(); err != nil || n != 2 {
		t.Fatalf("pool holds %d (%v), want the 2 unclaimed codes", n, err)
	}
}
