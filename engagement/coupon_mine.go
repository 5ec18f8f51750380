package engagement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// "My coupons": a user's own coupon codes, those claimed of the drops of any stream (the per-user list of the
// CouponStore, UserCoupons) and those bought in the points store (the ledger's redemptions), each with its
// state as the shop's checkout sees it (the codes index, CouponByCode).

// MaxUserCoupons is how many codes "My coupons" lists, newest first, and how many claimed codes a user's
// list in the store keeps.
const MaxUserCoupons = 100

// Sources of a listed code (MyCoupon.Source).
const (
	CouponSourceDrop  = "drop"  // claimed of a coupon drop on a stream
	CouponSourceStore = "store" // bought with points in the points store
)

// UserCoupon is a code a user claimed of a coupon drop, as the store keeps it in the user's list.
type UserCoupon struct {
	Code        string    `json:"code"`
	StreamID    string    `json:"stream"`
	CouponID    string    `json:"coupon"`
	Title       string    `json:"title"`
	DiscountFen int64     `json:"dfen"`
	MinSpendFen int64     `json:"mfen"`
	ExpiresAt   time.Time `json:"exp"`
	// ClaimedAt is the claim's now, at µs precision (not part of the stored member: Redis keeps it as the
	// score).
	ClaimedAt time.Time `json:"-"`
	// Record is the code's record in the codes index, as CouponByCode returns it (filled by UserCoupons).
	Record ClaimedCode `json:"-"`
}

// userCoupon is the entry a claim of c by user on stream, giving code at now, adds to the user's list.
func userCoupon(stream string, c Coupon, code string, now time.Time) UserCoupon {
	return UserCoupon{
		Code: code, StreamID: stream, CouponID: c.ID, Title: c.Title, DiscountFen: c.DiscountFen,
		MinSpendFen: c.MinSpendFen, ExpiresAt: c.ExpiresAt.UTC(), ClaimedAt: time.UnixMicro(now.UnixMicro()).UTC(),
	}
}

// MyCoupon is one of a user's coupon codes as "My coupons" lists it (GET /api/v1/users/:uid/coupons).
type MyCoupon struct {
	Code   string `json:"code"`
	Source string `json:"source"` // CouponSourceDrop or CouponSourceStore
	// CouponID and StreamID name the drop of a drop code; RewardID the catalogue item of a store code.
	CouponID    string     `json:"coupon_id,omitempty"`
	RewardID    string     `json:"reward_id,omitempty"`
	StreamID    string     `json:"stream_id,omitempty"`
	Title       string     `json:"title,omitempty"`
	DiscountFen int64      `json:"discount_fen"`
	MinSpendFen int64      `json:"min_spend_fen"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	// Status is what the checkout's CouponByCode says of the code: claimed, redeemed, or expired.
	Status     string     `json:"status"`
	ClaimedAt  time.Time  `json:"claimed_at"`
	RedeemedAt *time.Time `json:"redeemed_at,omitempty"`
}

// codeStatus is the code's state at now: its index record's (CouponByCode's answer) when the record is this
// code's own (rec matches), else claimed until expires and expired after. A record that is not the code's
// own is one of another claim of the same shop code; the checkout's answer is about that claim, not this one.
func codeStatus(rec ClaimedCode, mine bool, code string, expires time.Time, now time.Time) (string, *time.Time) {
	if mine {
		r := rec.withStatus(code, now)
		return r.Status, r.RedeemedAt
	}
	if now.Before(expires) {
		return CodeStatusClaimed, nil
	}
	return CodeStatusExpired, nil
}

// MyCoupons lists a user's coupon codes, newest first, at most MaxUserCoupons: the codes claimed of coupon
// drops (while their record in the codes index lives: StreamTTL after the claim or its redemption) and those
// bought in the points store. The user themself, the shop's backend or an admin may read them (the same
// people as the points, canSeePoints); anyone else is forbidden.
func (s *Service) MyCoupons(ctx context.Context, actor Actor, user string) ([]MyCoupon, error) {
	if !canSeePoints(actor, user) {
		return nil, Errorf(CodeForbidden, "you may only see your own coupons")
	}
	now := s.now()
	drops, err := s.store.UserCoupons(ctx, user, MaxUserCoupons)
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", user, err)
	}
	out := make([]MyCoupon, 0, len(drops))
	for _, d := range drops {
		mine := d.Record.UserID == user && d.Record.CouponID == d.CouponID && d.Record.StreamID == d.StreamID
		exp := d.ExpiresAt
		m := MyCoupon{
			Code: d.Code, Source: CouponSourceDrop, CouponID: d.CouponID, StreamID: d.StreamID, Title: d.Title,
			DiscountFen: d.DiscountFen, MinSpendFen: d.MinSpendFen, ExpiresAt: &exp, ClaimedAt: d.ClaimedAt,
		}
		m.Status, m.RedeemedAt = codeStatus(d.Record, mine, d.Code, exp, now)
		out = append(out, m)
	}
	bought, err := s.storeCoupons(ctx, user, now)
	if err != nil {
		return nil, err
	}
	out = append(out, bought...)
	slices.SortStableFunc(out, func(a, b MyCoupon) int {
		if c := b.ClaimedAt.Compare(a.ClaimedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	if len(out) > MaxUserCoupons {
		out = out[:MaxUserCoupons]
	}
	return out, nil
}

// storeCoupons lists the coupon codes user bought in the points store, newest first (at most
// MaxUserCoupons), with the state the codes index gives them.
func (s *Service) storeCoupons(ctx context.Context, user string, now time.Time) ([]MyCoupon, error) {
	reds, err := s.ledger.Redemptions(ctx, user, rewards.KindCoupon, MaxUserCoupons)
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", user, ledgerError(err))
	}
	if len(reds) == 0 {
		return nil, nil
	}
	titles := map[string]string{}
	if cat, err := s.ledger.Catalogue(ctx); err == nil { // a title is a nicety: the code stands without it
		for _, r := range cat {
			titles[r.ID] = r.Title
		}
	}
	out := make([]MyCoupon, 0, len(reds))
	for _, r := range reds {
		if r.Code == "" {
			continue
		}
		rec, err := s.store.CouponByCode(ctx, r.Code)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("state of a code of %s: %w", user, err)
		}
		mine := err == nil && rec.UserID == user && rec.RedemptionID == r.ID
		exp := r.At.Add(RewardCodeValidity).UTC()
		if mine {
			exp = rec.ExpiresAt.UTC()
		}
		m := MyCoupon{
			Code: r.Code, Source: CouponSourceStore, RewardID: r.RewardID, Title: titles[r.RewardID],
			DiscountFen: r.DiscountFen, MinSpendFen: r.MinSpendFen, ExpiresAt: &exp, ClaimedAt: r.At.UTC(),
		}
		m.Status, m.RedeemedAt = codeStatus(rec, mine, r.Code, exp, now)
		out = append(out, m)
	}
	return out, nil
}
