package engagement

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
	// MaxCouponDiscountFen bounds a code's value (one million yuan), MaxCouponMinSpendFen its threshold.
	MaxCouponDiscountFen = 100_000_000
	MaxCouponMinSpendFen = 10_000_000_000
	// MaxCouponCodes bounds the codes a shop supplies for one drop; each is MinCouponCodeLen..MaxCouponCodeLen
	// characters of A-Z, 0-9 and '-'.
	MaxCouponCodes   = 10_000
	MinCouponCodeLen = 6
	MaxCouponCodeLen = 32
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
	// DiscountFen is what a code takes off an order, in fen; 0 is "a code only" (its value is the shop's
	// business, as before codes carried one). MinSpendFen is the order total from which it applies (满减);
	// 0 is any order. The shop's checkout checks the threshold: Kudos never sees the order's amount.
	DiscountFen int64 `json:"discount_fen"`
	MinSpendFen int64 `json:"min_spend_fen"`
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
	// Stock is 1..100000 codes. With Codes it may be left out (0): the stock is then len(Codes), and a stock
	// given must equal it.
	Stock int64 `json:"stock"`
	// ExpiresS is 10..86400 seconds after the drop reaches viewers. Claimed codes are honoured until then too.
	ExpiresS int `json:"expires_s"`
	// DiscountFen is 0 (a code only, the default, so that older clients keep working) or 1..100000000;
	// MinSpendFen is 0..10000000000 and, when set, at least DiscountFen.
	DiscountFen int64 `json:"discount_fen"`
	MinSpendFen int64 `json:"min_spend_fen"`
	// Codes, if given, are the shop's own codes, handed out in this order, one per claim: 1..10000 distinct
	// codes of 6..32 characters A-Z, 0-9, '-'. Without them Kudos generates an unguessable code per claim.
	Codes []string `json:"codes,omitempty"`
}

// validCouponCode reports whether code has the shape of a coupon code: MinCouponCodeLen..MaxCouponCodeLen
// characters of A-Z, 0-9 and '-' (generated codes are base32: A-Z and 2-7).
func validCouponCode(code string) bool {
	if len(code) < MinCouponCodeLen || len(code) > MaxCouponCodeLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (sp CouponSpec) clean() (CouponSpec, error) {
	title, err := CleanText("title", sp.Title, MaxCouponTitleRunes)
	if err != nil {
		return sp, err
	}
	if sp.Codes != nil {
		if len(sp.Codes) < 1 || len(sp.Codes) > MaxCouponCodes {
			return sp, Invalid("codes", "codes must hold 1..%d codes", MaxCouponCodes)
		}
		seen := make(map[string]bool, len(sp.Codes))
		for _, code := range sp.Codes {
			if !validCouponCode(code) {
				return sp, Invalid("codes", "each code must be %d..%d characters of A-Z, 0-9 and '-'", MinCouponCodeLen, MaxCouponCodeLen)
			}
			if seen[code] {
				return sp, Invalid("codes", "codes must be distinct")
			}
			seen[code] = true
		}
		if sp.Stock != 0 && sp.Stock != int64(len(sp.Codes)) {
			return sp, Invalid("stock", "stock must be left out or equal the number of codes (%d)", len(sp.Codes))
		}
		sp.Stock = int64(len(sp.Codes))
	}
	if sp.Stock < 1 || sp.Stock > MaxCouponStock {
		return sp, Invalid("stock", "stock must be 1..%d", MaxCouponStock)
	}
	if d := time.Duration(sp.ExpiresS) * time.Second; d < MinCouponExpiry || d > MaxCouponExpiry {
		return sp, Invalid("expires_s", "expires_s must be %d..%d", int(MinCouponExpiry.Seconds()), int(MaxCouponExpiry.Seconds()))
	}
	if sp.DiscountFen < 0 || sp.DiscountFen > MaxCouponDiscountFen {
		return sp, Invalid("discount_fen", "discount_fen must be 1..%d (or 0 for a code only)", MaxCouponDiscountFen)
	}
	if sp.MinSpendFen < 0 || sp.MinSpendFen > MaxCouponMinSpendFen {
		return sp, Invalid("min_spend_fen", "min_spend_fen must be 0..%d", int64(MaxCouponMinSpendFen))
	}
	if sp.MinSpendFen > 0 && sp.MinSpendFen < sp.DiscountFen {
		return sp, Invalid("min_spend_fen", "min_spend_fen must be at least discount_fen")
	}
	return CouponSpec{Title: title, Stock: sp.Stock, ExpiresS: sp.ExpiresS, DiscountFen: sp.DiscountFen, MinSpendFen: sp.MinSpendFen, Codes: sp.Codes}, nil
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
		DiscountFen: spec.DiscountFen, MinSpendFen: spec.MinSpendFen,
	}
	c.ExpiresMS = c.ExpiresAt.UnixMilli()
	if err := s.store.CreateCoupon(ctx, stream, c, spec.Codes...); err != nil {
		return Coupon{}, Outcome{}, fmt.Errorf("drop coupon on %s: %w", stream, err)
	}
	s.emit(ctx, EventCouponDropped, stream, actor.User, map[string]any{
		"coupon_id": c.ID, "stream": stream, "title": c.Title, "stock": c.Stock, "expires_s": spec.ExpiresS,
		"discount_fen": c.DiscountFen, "min_spend_fen": c.MinSpendFen,
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
	c, code, err := s.store.ClaimCoupon(ctx, stream, couponID, actor.User, newCouponCode(), s.now().UTC())
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

// roomCoupons puts the stream's live coupons in the stream-wide part of the welcome.
func roomCoupons(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	live, err := s.Coupons(ctx, st.ID)
	if err != nil {
		return err
	}
	if len(live) > 0 {
		w.Coupons = live // joinCoupons turns them into each viewer's own list
	}
	return nil
}

// joinCoupons gives each viewer the stream's live coupons (roomCoupons) with the code they claimed of each.
func joinCoupons(ctx context.Context, s *Service, actor Actor, st Stream, w *Welcome) error {
	live, _ := w.Coupons.([]Coupon)
	if len(live) == 0 {
		return nil
	}
	// A viewer who reconnects sees the codes they already claimed (an ack can be lost on the way).
	views := make([]welcomeCoupon, len(live))
	for i, c := range live {
		views[i].Coupon = c
		var err error
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
	// CreateCoupon stores c (Remaining = Stock) and, if given, the shop's codes (len(codes) = Stock) that
	// claims hand out in order; without codes each claim stores the code it is given. ErrDuplicate if the id
	// is taken.
	CreateCoupon(ctx context.Context, stream string, c Coupon, codes ...string) error
	// Coupon returns a coupon with its remaining stock, or ErrNotFound.
	Coupon(ctx context.Context, stream, id string) (Coupon, error)
	// Coupons returns the stream's coupons, oldest first.
	Coupons(ctx context.Context, stream string) ([]Coupon, error)
	// ClaimCoupon gives one unit of the coupon to user and returns the coupon after it and the code given:
	// the next of the shop's codes if the coupon was created with codes (in their order), else code. Atomic:
	// ErrNotFound for an unknown coupon; ErrDuplicate if user already claimed it; ErrClosed if now is before
	// OpensAt, not before ExpiresAt, or no stock remains. Stock never goes below zero, a code is stored for
	// each successful claim only, and no shop code is given twice. The code given is added to the codes index
	// (CouponByCode) unless a code of that hash is already indexed (the first record is kept).
	ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, string, error)
	// CouponCode returns the code user claimed of the coupon, or "" if they claimed none.
	CouponCode(ctx context.Context, stream, id, user string) (string, error)
	// CouponByCode returns the record of a claimed code (Code left empty, Status claimed or redeemed), or
	// ErrNotFound: an unknown code, and a shop code nobody claimed yet. The index is keyed by
	// couponCodeKey(code), never by the code itself, and the lookup is one get of that key whether or not the
	// code exists (see CouponByCode on Service).
	CouponByCode(ctx context.Context, code string) (ClaimedCode, error)
	// RedeemCouponCode marks a claimed code redeemed by order at now and returns its record. Atomic, so a code
	// is redeemed by one order only however many calls race: ErrNotFound for an unknown code; the record as it
	// is if order redeemed it before (a replay, also after expiry); ErrConflict if another order did;
	// ErrExpired if now is not before its ExpiresAt and no order redeemed it.
	RedeemCouponCode(ctx context.Context, code, order string, now time.Time) (ClaimedCode, error)
	// IndexCouponCode adds a code given another way than a claim (a points-store coupon, r.StreamID empty)
	// to the codes index, unless a code of that hash is already indexed (the first record is kept). The
	// record lives until StreamTTL after r.ExpiresAt (and StreamTTL after its redemption).
	IndexCouponCode(ctx context.Context, code string, r ClaimedCode) error
	// UserCoupons returns the codes user claimed of coupon drops, newest first (by ClaimedAt, the claim's now),
	// at most n, each with its record in the codes index (UserCoupon.Record, as CouponByCode returns it). A
	// successful ClaimCoupon adds its code to the user's list (Redis: the step after the index's, healed by a
	// retry as the index is); a list keeps the last MaxUserCoupons codes, and a code whose index record is
	// gone is left out, so an entry lives as long as its record (StreamTTL after the claim, and after its
	// redemption).
	UserCoupons(ctx context.Context, user string, n int) ([]UserCoupon, error)
}

// Statuses of a claimed code (ClaimedCode.Status).
const (
	CodeStatusClaimed  = "claimed"
	CodeStatusRedeemed = "redeemed"
	CodeStatusExpired  = "expired"
)

// ClaimedCode is a claimed coupon code as the shop sees it at checkout.
type ClaimedCode struct {
	Code        string    `json:"code"`
	CouponID    string    `json:"coupon_id"`
	StreamID    string    `json:"stream_id"`
	UserID      string    `json:"user_id"`
	DiscountFen int64     `json:"discount_fen"`
	MinSpendFen int64     `json:"min_spend_fen"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Status is claimed, redeemed or (claimed and past ExpiresAt) expired.
	Status     string     `json:"status"`
	OrderID    string     `json:"order_id,omitempty"`
	RedeemedAt *time.Time `json:"redeemed_at,omitempty"`
	// RedemptionID is set on a points-store code: the request id of the redemption that gave it (CouponID is
	// then the reward's id and StreamID empty).
	RedemptionID string `json:"redemption_id,omitempty"`
}

// claimedCode is the record a claim of c by user on stream adds to the codes index.
func claimedCode(stream, user string, c Coupon) ClaimedCode {
	return ClaimedCode{
		CouponID: c.ID, StreamID: stream, UserID: user, DiscountFen: c.DiscountFen, MinSpendFen: c.MinSpendFen,
		ExpiresAt: c.ExpiresAt.UTC(), Status: CodeStatusClaimed,
	}
}

// DevCodeIndexKey keys the codes index of a RedisStore configured without RedisConfig.CodeIndexKey (tests and
// tools). A server always gives its own per-deployment key (KUDOS_CODE_INDEX_KEY, or one derived from
// KUDOS_TOKEN_SECRET), so a Redis dump and this source together do not let anyone test guesses.
var DevCodeIndexKey = []byte("kudos/coupon-code-index/v1")

// couponCodeKey names code in the codes index: HMAC-SHA-256 of the code under key, in hex. The index never
// holds a code itself: a dump of Redis or of the process shows which codes exist only to someone who can
// guess them and holds the key. Every node of a deployment must use the same key, across restarts.
func couponCodeKey(key []byte, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// errUnknownCode is the one answer for a code that is not a claimed one, whatever the reason.
func errUnknownCode() error { return Errorf(CodeNotFound, "no such coupon code") }

// withStatus completes a store's record for the caller: the code asked about, and expired once a claimed
// code is past its expiry at now.
func (r ClaimedCode) withStatus(code string, now time.Time) ClaimedCode {
	r.Code = code
	if r.Status == CodeStatusClaimed && !now.Before(r.ExpiresAt) {
		r.Status = CodeStatusExpired
	}
	return r
}

// CouponByCode returns a claimed code's record for the shop's checkout (a service token or an admin).
//
// Same timing whether the code exists or not: the work done does not depend on which codes exist, so timing
// the answer tells a guesser nothing beyond the answer itself. A malformed code is refused before any lookup
// (that reveals only the public format); any well-formed one costs one HMAC of its bytes and one get of the
// resulting key (a map get on memory, one HMGET on Redis), found or not: there is no ordered index, no scan
// and no comparison of the guess against stored codes that could stop early at the first differing
// character. A shop code nobody claimed is not in the index at all, so it answers exactly as a made-up one.
func (s *Service) CouponByCode(ctx context.Context, actor Actor, code string) (ClaimedCode, error) {
	if err := RequireShop(actor, "looks up coupon codes"); err != nil {
		return ClaimedCode{}, err
	}
	if !validCouponCode(code) {
		return ClaimedCode{}, errUnknownCode()
	}
	r, err := s.store.CouponByCode(ctx, code)
	if errors.Is(err, ErrNotFound) {
		return ClaimedCode{}, errUnknownCode()
	}
	if err != nil {
		return ClaimedCode{}, fmt.Errorf("look up a coupon code: %w", err)
	}
	return r.withStatus(code, s.now()), nil
}

// doRedeemCouponCode is RedeemCouponCode (act.go), less the admission and the publication of its events.
func (s *Service) doRedeemCouponCode(ctx context.Context, actor Actor, code, orderID string) (ClaimedCode, error) {
	if err := RequireShop(actor, "redeems coupon codes"); err != nil {
		return ClaimedCode{}, err
	}
	if err := validID("order_id", orderID); err != nil {
		return ClaimedCode{}, err
	}
	if !validCouponCode(code) {
		return ClaimedCode{}, errUnknownCode()
	}
	r, err := s.store.RedeemCouponCode(ctx, code, orderID, s.now().UTC())
	switch {
	case errors.Is(err, ErrNotFound):
		return ClaimedCode{}, errUnknownCode()
	case errors.Is(err, ErrExpired):
		return ClaimedCode{}, Errorf(CodeExpired, "this coupon code has expired")
	case errors.Is(err, ErrConflict):
		// Name the order that has it, so the shop can tell a double submission from a stolen code.
		if prev, perr := s.store.CouponByCode(ctx, code); perr == nil && prev.OrderID != "" {
			return ClaimedCode{}, Errorf(CodeConflict, "this coupon code was already redeemed by order %q", prev.OrderID)
		}
		return ClaimedCode{}, Errorf(CodeConflict, "this coupon code was already redeemed by another order")
	case err != nil:
		return ClaimedCode{}, fmt.Errorf("redeem a coupon code: %w", err)
	}
	// A replay publishes the event again with the same id and time (consumers keep one), so that a
	// redemption whose first publication was lost is still told.
	at := s.now()
	if r.RedeemedAt != nil {
		at = *r.RedeemedAt
	}
	// No code in the event: codes are secrets between the shop and the viewer.
	if r.RedemptionID != "" { // a points-store code (points_store.go): a user may hold several of one reward
		s.emitOnce(ctx, "coupon:points:"+r.UserID+":"+r.RedemptionID, at, EventRedemptionUsed, "", r.UserID, map[string]any{
			"reward_id": r.CouponID, "request_id": r.RedemptionID, "order_id": r.OrderID,
		})
		return r.withStatus(code, s.now()), nil
	}
	s.emitOnce(ctx, "coupon:"+r.CouponID+":"+r.UserID, at, EventCouponRedeemed, r.StreamID, r.UserID, map[string]any{
		"coupon_id": r.CouponID, "stream": r.StreamID, "order_id": r.OrderID,
	})
	return r.withStatus(code, s.now()), nil
}
