package rewards

import (
	"context"
	"fmt"
	"time"
)

// Refunds: a purchase refunded whole or in part (RefundPart), with the store's Refund doing the
// bookkeeping atomically (store_memory_refund.go, store_redis_refund.go, lua/refund.lua).

// RefundResult says what a Refund did.
type RefundResult struct {
	OrderKey  string
	User      string
	Cancelled int64 // pending points removed (refund inside the return window)
	Reversed  int64 // settled points taken back from the balance (refund after it)
	Shortfall int64 // points that could not be taken back because the balance was too low
	Balance   int64
	Stream    string    // the stream the order was attributed to ("" if none)
	Amount    int64     // what this refund refunded of the order's Award.Amount (0 for an order without one)
	Refunded  int64     // what has been refunded of it in all, this refund included
	Total     int64     // the order's Award.Amount
	Full      bool      // the order is now refunded whole
	Replayed  bool      // a replayed part: nothing changed, the rest is the first result (Balance is today's)
	At        time.Time // when the refund counts, as first applied
}

// RefundPart names a partial refund: ID is the shop's idempotency key for it (unique within the order),
// Amount what it refunds of the order's Award.Amount.
type RefundPart struct {
	ID     string
	Amount int64
}

// MaxRefundParts bounds the partial refunds of one order (each is kept for idempotency with the order).
const MaxRefundParts = 50

// wholeRefundKey is where an order keeps the result of its whole refund (beside its parts, by id), so that a
// retried whole refund answers as the first did. A space makes it no valid part id.
const wholeRefundKey = " whole"

// Refund undoes the purchase awarded under orderKey, refunded at at (zero → now): inside the return
// window its pending points are cancelled; after it its points are taken back from the balance, never
// below zero, and what could not be taken is reported as Shortfall. An order is refundable for ExpiryMonths
// after it was recorded, while its points could still be in the balance; after that it is ErrNotFound.
func (l *Ledger) Refund(ctx context.Context, orderKey string, at time.Time) (RefundResult, error) {
	p := l.policy(l.cfg.Now())
	if orderKey == "" {
		return RefundResult{}, fmt.Errorf("refund order: %w: empty key", ErrInvalid)
	}
	if at.IsZero() || at.After(p.Now) {
		at = p.Now
	}
	res, err := l.store.Refund(ctx, orderKey, RefundPart{}, at.UTC(), p)
	if err != nil {
		return RefundResult{}, fmt.Errorf("refund order %q: %w", orderKey, err)
	}
	return res, nil
}

// RefundPart refunds part of the purchase awarded under orderKey (recorded with an Award.Amount), at at
// (zero → now): the share part.Amount ÷ Amount of its points is cancelled inside the return window or taken
// back after it, as Refund does for the whole. Once per part.ID: a replay returns the first result with
// Replayed set, ErrConflict if its amount differs. ErrInvalid when the order has no amount, part.Amount is
// not positive or exceeds what is not refunded yet; ErrDuplicate when the order is refunded whole.
func (l *Ledger) RefundPart(ctx context.Context, orderKey string, part RefundPart, at time.Time) (RefundResult, error) {
	p := l.policy(l.cfg.Now())
	if orderKey == "" || part.ID == "" || part.Amount <= 0 {
		return RefundResult{}, fmt.Errorf("refund part of order %q: %w: key, part id and a positive amount required", orderKey, ErrInvalid)
	}
	if at.IsZero() || at.After(p.Now) {
		at = p.Now
	}
	res, err := l.store.Refund(ctx, orderKey, part, at.UTC(), p)
	if err != nil {
		return RefundResult{}, fmt.Errorf("refund part %q of order %q: %w", part.ID, orderKey, err)
	}
	return res, nil
}
