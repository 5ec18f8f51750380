package rewards

import (
	"context"
	"time"
)

// Store keeps ledger state and applies the ledger's multi-step rules atomically. The Ledger turns its
// Config and clock into a Policy and passes it with every call, so a Store holds no configuration of its own.
//
// Contract, shared by every implementation and checked by one conformance suite:
//   - Award, Refund and Redeem are each atomic: concurrent calls behave as if run one after another, so
//     the monthly cap is never exceeded, a balance never goes below zero, stock never goes below zero, and
//     an idempotency key or request id is applied at most once.
//   - Every call that reads or changes a user first settles that user's purchases whose return window
//     ended at or before Policy.SettleBefore and expires points earned at or before Policy.ExpireBefore,
//     oldest first; both are recorded as entries. (Refund expires first, judges its order, then settles.)
//   - A user's entries are append-only and kept in the order they were written.
//   - Storage is bounded by recent traffic: an award's record (its key, for idempotency) is kept until
//     Policy.keepUntil (the end of the month after the award's month, an order's ExpiryMonths after it, each
//     plus a day) and is absent once that has passed (Redis expires it; memory prunes it); a stream's
//     leaderboard lasts as long as the record of its last participation award; the user's next order drops
//     the settled and refunded orders whose points have expired (made at or before ExpireBefore). What stays is
//     one account per user (balance, tier, entries, orders, redemptions, redemptions per reward), the units
//     redeemed of each reward, gift claims and the catalogue.
//   - Backend failures are returned wrapped; rule outcomes use this package's sentinel errors.
type Store interface {
	// Award applies a once per a.Key while the key's record is kept (until p.keepUntil(a) of the award that
	// made it). A replayed key changes nothing and returns the original result with Applied false, or
	// ErrConflict if both the recorded and a.Fingerprint are set and differ. Only a participation award
	// (a.Participation) adds to the stream's leaderboard.
	Award(ctx context.Context, a Award, p Policy) (AwardResult, error)
	// Recorded reports whether an award's record is kept under key at p.Now: whether Award with that key
	// would replay it (or find it a conflict) rather than apply it.
	Recorded(ctx context.Context, key string, p Policy) (bool, error)
	// Refund cancels the pending points of the purchase awarded under orderKey if at is inside its return
	// window, or reverses its settled points (never below zero, recording the shortfall) otherwise.
	// ErrNotFound if no such award (or its record is gone) or it was made at or before p.ExpireBefore,
	// ErrInvalid if it was not a pending purchase, ErrDuplicate if refunded.
	//
	// A part (part.ID set) refunds part.Amount of the order's Award.Amount: the points taken back are
	// Granted × refunded ÷ Amount (rounded down) less what earlier parts took, all that is left once the
	// whole amount is refunded. A replayed part ID returns its first result with Replayed set, or ErrConflict
	// for another amount; ErrInvalid if the order has no amount or the part exceeds what is left;
	// ErrLimitReached after MaxRefundParts parts. A whole refund (part.ID empty) refunds what is left; once
	// it is done, another whole refund returns its result with Replayed set (ErrDuplicate if parts refunded
	// the whole order). Parts
	// need Granted × Amount < 2^53 (exact in Lua's doubles): any real order, whose points are about its
	// amount ÷ 100; a larger one is refunded whole.
	Refund(ctx context.Context, orderKey string, part RefundPart, at time.Time, p Policy) (RefundResult, error)
	// Redeem debits r.Cost from req.User's balance (oldest points first) and takes one unit of r's stock,
	// once per (user, RequestID). A replay with the same reward returns the original Redemption with Replayed
	// set; with another reward it is ErrDuplicate. ErrLimitReached (the user redeemed r r.PerUserLimit times),
	// ErrOutOfStock (r.Stock units redeemed in all, across users) and ErrInsufficientPoints change nothing.
	// The redemption stores req.Code and req.ClaimID, r's Kind and amounts; a ClaimID is indexed for Fulfil.
	Redeem(ctx context.Context, req RedeemRequest, r Reward, p Policy) (Redemption, error)
	// Fulfil marks the gift redemption of claimID fulfilled at p.Now, once, and returns it (a second call
	// returns it as the first left it). ErrNotFound for an unknown claim.
	Fulfil(ctx context.Context, claimID string, p Policy) (Redemption, error)
	// Redemptions returns the user's redemptions as stored (with their codes, claims and fulfilments), newest
	// first (by At, then request id). An unknown user has none.
	Redemptions(ctx context.Context, user string) ([]Redemption, error)
	// Catalogue returns the stored catalogue and true, or false if none was ever stored.
	Catalogue(ctx context.Context) ([]Reward, bool, error)
	// SetCatalogue stores rs as the catalogue (kept: it survives restarts of a durable backend).
	SetCatalogue(ctx context.Context, rs []Reward) error
	// Snapshot settles and expires, then returns the user's state. An unknown user has a zero Snapshot.
	Snapshot(ctx context.Context, user string, p Policy) (Snapshot, error)
	// Entries returns the user's last n entries, oldest first (all when n <= 0).
	Entries(ctx context.Context, user string, n int) ([]Entry, error)
	// Leaderboard returns the n users with the most participation points granted in stream, most first;
	// ties share a rank and are ordered by user id.
	Leaderboard(ctx context.Context, stream string, n int) ([]Standing, error)
	// Remaining returns the units left of each limited reward (Stock > 0) in rs, keyed by id: its Stock less
	// the units of it redeemed (never below zero).
	Remaining(ctx context.Context, rs []Reward) (map[string]int64, error)
	// Facts returns the user's facts not yet acknowledged, oldest first (facts.go). Every call that changes a
	// user records the facts of its change in the same atomic step: FactSettled for every order settled
	// (points > 0), FactExpired for points expired, FactExpiring once per lot (points left > 0) when it comes
	// within ExpiringNotice of expiring, FactTier whenever the recorded tier changes, with its reason.
	Facts(ctx context.Context, user string) ([]Fact, error)
	// AckFacts drops the user's facts with Seq <= seq.
	AckFacts(ctx context.Context, user string, seq int64) error
	// Sweep settles, expires, announces and re-tiers up to limit users, as a call touching them would: the
	// Redis store those with something due (by its indexes), the memory store the next limit users in turn;
	// then it returns up to limit users with facts not yet acknowledged.
	Sweep(ctx context.Context, p Policy, limit int) (SweepResult, error)
}

// Policy is what a Store needs to apply the rules at one instant. Months are calendar months in Location
// written "2006-01" (Policy.monthOf); times are compared at millisecond precision.
type Policy struct {
	Now          time.Time      // the ledger clock's reading
	Location     *time.Location // the zone of the business calendar (Config.Location); nil is UTC
	Month        string         // the month of Now
	FirstMonth   string         // the oldest month counted in the trailing twelve; older months are pruned
	ExpireBefore time.Time      // points earned at or before this instant have expired
	SettleBefore time.Time      // purchases made at or before this instant have left their return window
	ReturnWindow time.Duration  // how long purchase points stay pending
	ExpiryMonths int            // how many months points last: how long an order stays refundable
	MonthlyCap   int64          // points grantable per calendar month, all sources together
	Tiers        []TierRule     // ascending by Threshold; the first has Threshold 0
	TierBasis    string         // BasisPoints or BasisSpend: what Threshold counts (Policy.standing)
}

// Snapshot is a user's stored state as a Store reports it; the Ledger derives an Account from it.
type Snapshot struct {
	Balance   int64
	Pending   int64
	Tier      Tier             // the tier last recorded by an award ("" before the first)
	Earned    map[string]int64 // points granted per month, for the months still counted
	Spent     map[string]int64 // fen spent per month (Award.Amount of purchases less refunds), months counted
	Capped    int64            // lifetime overflow above the monthly cap
	Expired   int64            // lifetime expired points
	Shortfall int64            // lifetime refund reversals that found too few points
	Recent    []Entry          // the last RecentEntries entries, oldest first
}

// RecentEntries is how many entries Snapshot and Account carry.
const RecentEntries = 10

// spendFen is what a adds to its user's spend: a purchase's (pending award's) Amount.
func (a Award) spendFen() int64 {
	if a.Pending && a.Amount > 0 {
		return a.Amount
	}
	return 0
}

// standing is what p's tier thresholds are compared with: the points earned, or with BasisSpend the whole
// yuan spent (spentFen ÷ 100, rounded down), over the same months.
func (p Policy) standing(earned, spentFen int64) int64 {
	if p.TierBasis == BasisSpend {
		return spentFen / 100
	}
	return earned
}

// tierFor returns the rule that applies to a standing (points earned, or yuan spent: Policy.standing): the
// last one whose threshold is reached.
func tierFor(tiers []TierRule, earned int64) TierRule {
	rule := tiers[0]
	for _, t := range tiers[1:] {
		if earned >= t.Threshold {
			rule = t
		}
	}
	return rule
}

// multiplied applies a tier multiplier to base points, rounding down.
func multiplied(base int64, rule TierRule) int64 {
	return base * rule.multiplierBP() / 10000
}

// monthOf returns the month of t in p.Location, as stored: "2006-01". An award counts against the cap of
// p.monthOf(a.At).
func (p Policy) monthOf(t time.Time) string { return monthOf(t, p.location()) }

func (p Policy) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

func monthOf(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01") }
