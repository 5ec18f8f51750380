package engagement

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Coupon drop limits.
const (
	MaxCouponTitleRunes = 120
	MaxCouponStock      = 100_000
	MinCouponExpiry     = 10 * time.Second
	MaxCouponExpiry     = 24 * time.Hour
)

// Coupon is a limited stock of discount codes a host drops on a stream; each viewer may claim one.
type Coupon struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Stock     int64  `json:"stock"`
	Remaining int64  `json:"remaining"`
	// OpensAt is when viewers see the drop (after the video delay); claims before it are refused.
	OpensAt   time.Time `json:"opens_at"`
	ExpiresAt time.Time `json:"expires_at"`
	ExpiresMS int64     `json:"expires_ms"`
}

// claimable reports whether a claim at now may take a unit (stock, OpensAt, ExpiresAt): nil, ErrNotOpenYet,
// ErrTimeUp or ErrSoldOut.
func (c Coupon) claimable(now time.Time) error {
	switch {
	case now.Before(c.OpensAt):
		return ErrNotOpenYet
	case !now.Before(c.ExpiresAt):
		return ErrTimeUp
	case c.Remaining <= 0:
		return ErrSoldOut
	}
	return nil
}

// couponError words a CouponStore rejection about coupon id for the user; other errors pass unchanged.
func couponError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no coupon %q", id)
	case errors.Is(err, ErrNotOpenYet):
		return notYetOpen("coupon")
	case errors.Is(err, ErrTimeUp):
		return Errorf(CodeClosed, "coupon has expired")
	case errors.Is(err, ErrSoldOut):
		return Errorf(CodeClosed, "coupon is out of stock")
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "you already claimed this coupon")
	}
	return err
}

// live reports whether viewers can see the coupon at now (opened, not expired).
func (c Coupon) live(now time.Time) bool { return !now.Before(c.OpensAt) && now.Before(c.ExpiresAt) }

// CouponSpec is what a host gives to drop a coupon.
type CouponSpec struct {
	Title string `json:"title"`
	// Stock is 1..100000 codes.
	Stock int64 `json:"stock"`
	// ExpiresS is 10..86400 seconds after the drop reaches viewers.
	ExpiresS int `json:"expires_s"`
}

func (sp CouponSpec) clean() (CouponSpec, error) {
	title, err := CleanText("title", sp.Title, MaxCouponTitleRunes)
	if err != nil {
		return sp, err
	}
	if sp.Stock < 1 || sp.Stock > MaxCouponStock {
		return sp, Invalid("stock", "stock must be 1..%d", MaxCouponStock)
	}
	if d := time.Duration(sp.ExpiresS) * time.Second; d < MinCouponExpiry || d > MaxCouponExpiry {
		return sp, Invalid("expires_s", "expires_s must be %d..%d", int(MinCouponExpiry.Seconds()), int(MaxCouponExpiry.Seconds()))
	}
	return CouponSpec{Title: title, Stock: sp.Stock, ExpiresS: sp.ExpiresS}, nil
}

// CouponClaim is the coupon.claim client action; its ack carries the viewer's code.
type CouponClaim struct {
	CouponID string `json:"coupon_id"`
}

// FrameType implements Action.
func (CouponClaim) FrameType() string { return "coupon.claim" }

func (a *CouponClaim) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.ClaimCoupon(ctx, actor, stream, a.CouponID)
}

// doDropCoupon is DropCoupon (act.go), less the admission and the publication of its events.
func (s *Service) doDropCoupon(ctx context.Context, actor Actor, stream string, spec CouponSpec) (Coupon, Outcome, error) {
	st, err := s.runStream(ctx, actor, stream)
	if err != nil {
		return Coupon{}, Outcome{}, err
	}
	if spec, err = spec.clean(); err != nil {
		return Coupon{}, Outcome{}, err
	}
	opens := s.now().Add(st.videoDelay()).UTC()
	c := Coupon{
		ID: s.newItemID(), Title: spec.Title, Stock: spec.Stock, Remaining: spec.Stock,
		OpensAt: opens, ExpiresAt: opens.Add(time.Duration(spec.ExpiresS) * time.Second),
	}
	c.ExpiresMS = c.ExpiresAt.UnixMilli()
	if err := s.store.CreateCoupon(ctx, stream, c); err != nil {
		return Coupon{}, Outcome{}, fmt.Errorf("drop coupon on %s: %w", stream, err)
	}
	s.emit(ctx, EventCouponDropped, stream, actor.User, map[string]any{
		"coupon_id": c.ID, "stream": stream, "title": c.Title, "stock": c.Stock, "expires_s": spec.ExpiresS,
	})
	out := Outcome{Stream: stream, Broadcast: []Frame{{Type: "coupon.drop", Data: c}}, Delay: st.videoDelay()}
	s.record(ctx, out)
	return c, out, nil
}

// newCouponCode returns a fresh code: 12 characters of base32 (60 random bits), unguessable and, for any
// realistic number of claims, unique.
func newCouponCode() string { return rand.Text()[:12] }

// ClaimCoupon gives actor one code of a coupon: once per user, while stock lasts and before it expires.
// The outcome's Reply carries the code.
func (s *Service) ClaimCoupon(ctx context.Context, actor Actor, stream, couponID string) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actClaim); err != nil {
		return Outcome{}, err
	}
	if couponID == "" {
		return Outcome{}, Invalid("coupon_id", "coupon_id is required")
	}
	code := newCouponCode()
	c, err := s.store.ClaimCoupon(ctx, stream, couponID, actor.User, code, s.now().UTC())
	if errors.Is(err, ErrDuplicate) {
		// A retry after a lost ack must not lose the code: say it again (it is this user's own).
		if prev, cerr := s.store.CouponCode(ctx, stream, couponID, actor.User); cerr == nil && prev != "" {
			return Outcome{}, Errorf(CodeDuplicate, "you already claimed this coupon: your code is %s", prev)
		}
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("claim coupon %s: %w", couponID, couponError(err, couponID))
	}
	s.emit(ctx, EventCouponClaimed, stream, actor.User, map[string]any{
		// The code itself is a secret between the shop and the viewer; downstream needs only that a claim happened.
		"coupon_id": couponID, "stream": stream, "remaining": c.Remaining,
	})
	return Outcome{Stream: stream, Reply: map[string]any{"code": code}}, nil
}

// Coupons returns the coupons of a stream that viewers can see now.
func (s *Service) Coupons(ctx context.Context, stream string) ([]Coupon, error) {
	all, err := s.store.Coupons(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", stream, err)
	}
	now := s.now()
	var live []Coupon
	for _, c := range all {
		if c.live(now) {
			live = append(live, c)
		}
	}
	return live, nil
}

func joinCoupons(ctx context.Context, s *Service, actor Actor, st Stream, w *Welcome) error {
	live, err := s.Coupons(ctx, st.ID)
	if err != nil {
		return err
	}
	if len(live) == 0 {
		return nil
	}
	// A viewer who reconnects sees the codes they already claimed (an ack can be lost on the way).
	views := make([]welcomeCoupon, len(live))
	for i, c := range live {
		views[i].Coupon = c
		if views[i].YourCode, err = s.store.CouponCode(ctx, st.ID, c.ID, actor.User); err != nil {
			return fmt.Errorf("coupon code of %s: %w", actor.User, err)
		}
	}
	w.Coupons = views
	return nil
}

// welcomeCoupon is a live coupon as one viewer sees it on joining.
type welcomeCoupon struct {
	Coupon
	YourCode string `json:"your_code,omitempty"`
}

// snapshotCoupons is one coalesced coupon.stock frame per live coupon.
func snapshotCoupons(ctx context.Context, s *Service, stream string) ([]Frame, error) {
	live, err := s.Coupons(ctx, stream)
	if err != nil {
		return nil, err
	}
	frames := make([]Frame, 0, len(live))
	for _, c := range live {
		frames = append(frames, Frame{Type: "coupon.stock", Data: map[string]any{"id": c.ID, "remaining": c.Remaining}})
	}
	return frames, nil
}

// CouponStore keeps coupon drops and claims.
type CouponStore interface {
	// CreateCoupon stores c (Remaining = Stock); ErrDuplicate if the id is taken.
	CreateCoupon(ctx context.Context, stream string, c Coupon) error
	// Coupon returns a coupon with its remaining stock, or ErrNotFound.
	Coupon(ctx context.Context, stream, id string) (Coupon, error)
	// Coupons returns the stream's coupons, oldest first.
	Coupons(ctx context.Context, stream string) ([]Coupon, error)
	// ClaimCoupon gives one unit of the coupon to user under code and returns the coupon after it. Atomic:
	// ErrNotFound for an unknown coupon; ErrDuplicate if user already claimed it; ErrClosed if now is before
	// OpensAt, not before ExpiresAt, or no stock remains. Stock never goes below zero and a code is stored
	// for each successful claim only.
	ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, error)
	// CouponCode returns the code user claimed of the coupon, or "" if they claimed none.
	CouponCode(ctx context.Context, stream, id, user string) (string, error)
}
