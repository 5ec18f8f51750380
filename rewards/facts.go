package rewards

import (
	"context"
	"fmt"
	"time"
)

// Facts are the balance and tier changes that happen inside the ledger without a call that asks for them:
// purchase points settling when their return window ends, points expiring, a tier changing (with an award,
// with a refund, or when a month leaves the trailing twelve), and the notice that points will soon expire.
// A Store records each fact with the change that makes it, atomically, in the user's outbox, numbered by
// a per-user sequence (Fact.Seq); the caller publishes them (with ids derived from the user and Seq, so a
// second publication after a crash is the same event) and then acknowledges them (AckFacts), which drops
// them. A fact stays in the outbox until acknowledged, so none is lost when the process stops between the
// change and its publication.

// FactKind says what a Fact records.
type FactKind string

// Fact kinds.
const (
	FactSettled  FactKind = "settled"  // pending purchase points became spendable (Key, Stream, Points)
	FactExpired  FactKind = "expired"  // points expired (Points)
	FactExpiring FactKind = "expiring" // points will expire by ExpiresBy (Points): the notice, once per lot
	FactTier     FactKind = "tier"     // the tier changed (From, To, Reason)
)

// Reasons of a tier change (Fact.Reason).
const (
	TierReasonAward  = "award"  // an award (or a purchase) raised the standing
	TierReasonRefund = "refund" // a refund lowered it
	TierReasonWindow = "window" // a month left the trailing twelve
)

// ExpiringNotice is how long before points expire a FactExpiring announces them: the lots that expire by
// the end of the business day ExpiringNotice from now are announced together, once.
const ExpiringNotice = 30 * 24 * time.Hour

// Fact is one recorded change (see above). Points are positive; Balance is the spendable balance after it.
type Fact struct {
	Seq       int64     `json:"seq"` // per user, from 1, in the order the facts happened
	Kind      FactKind  `json:"kind"`
	User      string    `json:"user"`
	At        time.Time `json:"at"`
	Key       string    `json:"key,omitempty"`    // FactSettled: the order's award key
	Stream    string    `json:"stream,omitempty"` // FactSettled: the order's stream
	Points    int64     `json:"points,omitempty"`
	Balance   int64     `json:"balance"`
	From      Tier      `json:"from,omitempty"`
	To        Tier      `json:"to,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ExpiresBy time.Time `json:"expires_by,omitzero"` // FactExpiring: all its points have expired by then
}

// SweepResult says what one Sweep did.
type SweepResult struct {
	Visited int      // users whose settling, expiry, notices and tier were brought up to date
	Users   []string // users with facts not yet acknowledged (at most the sweep's limit)
}

// warnHorizon returns which lots a FactExpiring announces at p.Now: those earned at or before before, which
// have all expired by by (the start of the business day after p.Now + ExpiringNotice).
func (p Policy) warnHorizon() (before, by time.Time) {
	loc := p.location()
	d := p.Now.In(loc).Add(ExpiringNotice)
	by = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	return by.AddDate(0, -p.ExpiryMonths, 0).UTC(), by.UTC()
}

// Facts returns user's facts not yet acknowledged, oldest first.
func (l *Ledger) Facts(ctx context.Context, user string) ([]Fact, error) {
	fs, err := l.store.Facts(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("read facts of %q: %w", user, err)
	}
	return fs, nil
}

// AckFacts drops user's facts up to seq (they are published).
func (l *Ledger) AckFacts(ctx context.Context, user string, seq int64) error {
	if err := l.store.AckFacts(ctx, user, seq); err != nil {
		return fmt.Errorf("acknowledge facts of %q: %w", user, err)
	}
	return nil
}

// Sweep brings up to limit users up to date (settling, expiry, expiry notices, tiers after a month left the
// window) as any call touching them would, so that their facts happen even when they do nothing, and returns
// up to limit users with facts to publish. limit <= 0 → 100.
func (l *Ledger) Sweep(ctx context.Context, limit int) (SweepResult, error) {
	if limit <= 0 {
		limit = 100
	}
	res, err := l.store.Sweep(ctx, l.policy(l.cfg.Now()), limit)
	if err != nil {
		return SweepResult{}, fmt.Errorf("sweep the ledger: %w", err)
	}
	return res, nil
}
