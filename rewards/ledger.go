// Package rewards is the loyalty ledger: balances, idempotent awards under a monthly cap, tiers with
// point multipliers, pending purchase points and refunds, expiry, redemptions from a catalogue with stock,
// and per-stream leaderboards.
//
// It is a leaf: it knows nothing of streams, sockets or events. Callers (package engagement) turn
// interactions into Awards and results into events. State lives in a Store: MemoryStore for one node,
// RedisStore when several nodes share it; both pass the same conformance suite.
package rewards

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Sentinel errors; match them with errors.Is.
var (
	ErrNotFound           = errors.New("rewards: not found")
	ErrInsufficientPoints = errors.New("rewards: insufficient points")
	ErrOutOfStock         = errors.New("rewards: out of stock")
	ErrInvalid            = errors.New("rewards: invalid request")
	ErrDuplicate          = errors.New("rewards: duplicate request")
	// ErrConflict: an award key seen before came with another Fingerprint (an order id reused for another
	// amount or user). Nothing changed.
	ErrConflict = errors.New("rewards: conflicting request")
	// ErrLimitReached: the user has redeemed the reward its PerUserLimit times. Nothing changed.
	ErrLimitReached = errors.New("rewards: per-user limit reached")
)

// Tier is a loyalty tier, earned by points granted (or, with TierBasis BasisSpend, yuan spent) in the
// trailing twelve months.
type Tier string

// Tier bases (Config.TierBasis): what a tier's threshold counts over the trailing twelve months.
const (
	BasisPoints = "points" // points granted (purchase points included), the default
	BasisSpend  = "spend"  // yuan spent on purchases (Award.Amount of pending awards, in fen, ÷ 100), less refunds
)

// The default tiers.
const (
	TierBronze Tier = "bronze"
	TierSilver Tier = "silver"
	TierGold   Tier = "gold"
)

// TierRule says from how many points earned (or yuan spent, Config.TierBasis) in the trailing twelve months
// a tier applies, by how much it multiplies participation points (rounded down), and the privileges it
// gives, as display names the viewer's page shows (e.g. "优先客服", "包邮"); the ledger grants none itself.
type TierRule struct {
	Tier       Tier     `json:"tier"`
	Threshold  int64    `json:"threshold"`
	Multiplier float64  `json:"multiplier"`
	Privileges []string `json:"privileges,omitempty"`
}

// multiplierBP is the multiplier in basis points, so that point arithmetic stays in integers.
func (r TierRule) multiplierBP() int64 { return int64(math.Round(r.Multiplier * 10000)) }

// DefaultTiers returns bronze 0 ×1.0, silver 3000 ×1.1, gold 8000 ×1.25 (docs/architecture.md, "Scoring").
func DefaultTiers() []TierRule {
	return []TierRule{
		{Tier: TierBronze, Threshold: 0, Multiplier: 1.0},
		{Tier: TierSilver, Threshold: 3000, Multiplier: 1.1},
		{Tier: TierGold, Threshold: 8000, Multiplier: 1.25},
	}
}

// Config configures a Ledger. The zero value gives the documented defaults.
type Config struct {
	// MonthlyCap is the most points granted per calendar month (in Location) over the sources that count
	// toward it (CapSources). 0 → 1000.
	MonthlyCap int64
	// CapSources lists the Award.Source values that count toward MonthlyCap; an award of another source is
	// paid in full and leaves the month's room as it was. nil → every source counts.
	CapSources []string
	// Tiers, ascending by threshold, the first at 0. nil → DefaultTiers().
	Tiers []TierRule
	// TierBasis is what tier thresholds count: BasisPoints (points granted) or BasisSpend (whole yuan spent).
	// "" → BasisPoints.
	TierBasis string
	// ReturnWindow is how long purchase points stay pending before they settle. 0 → 7 days.
	ReturnWindow time.Duration
	// ExpiryMonths is how many months after being earned points expire. 0 → 12.
	ExpiryMonths int
	// DowngradeNotice is how long before a tier drop Account reports it in Downgrade. 0 → 14 days;
	// negative → never.
	DowngradeNotice time.Duration
	// Catalogue is the rewards that can be redeemed. nil → DefaultCatalogue().
	Catalogue []Reward
	// Now is the clock. nil → time.Now.
	Now func() time.Time
	// Location is the zone of the business calendar: its calendar months are the months of the monthly cap,
	// of the trailing twelve months of the tiers and of ExpiryMonths, and the month an award's record is
	// kept after. nil → Asia/Shanghai (DefaultLocation). Months are stored as "2006-01" in this zone, so
	// changing it splits the month of the change (docs/decisions.md).
	Location *time.Location
}

// DefaultLocation returns Asia/Shanghai, the business calendar of Kudos's buyers: from the system's zone
// database or an embedded one (import _ "time/tzdata"), else a fixed UTC+8 zone, which is the same for every
// instant since 1991 (China has kept no daylight saving time since).
func DefaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}

func (c Config) withDefaults() Config {
	if c.MonthlyCap == 0 {
		c.MonthlyCap = 1000
	}
	if c.Tiers == nil {
		c.Tiers = DefaultTiers()
	}
	if c.TierBasis == "" {
		c.TierBasis = BasisPoints
	}
	if c.ReturnWindow == 0 {
		c.ReturnWindow = 7 * 24 * time.Hour
	}
	if c.ExpiryMonths == 0 {
		c.ExpiryMonths = 12
	}
	if c.DowngradeNotice == 0 {
		c.DowngradeNotice = 14 * 24 * time.Hour
	}
	if c.Catalogue == nil {
		c.Catalogue = DefaultCatalogue()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = DefaultLocation()
	}
	return c
}

func (c Config) validate() error {
	if c.MonthlyCap < 0 {
		return fmt.Errorf("%w: MonthlyCap %d is negative", ErrInvalid, c.MonthlyCap)
	}
	if c.ReturnWindow < 0 || c.ExpiryMonths < 0 {
		return fmt.Errorf("%w: ReturnWindow and ExpiryMonths must not be negative", ErrInvalid)
	}
	if c.TierBasis != BasisPoints && c.TierBasis != BasisSpend {
		return fmt.Errorf("%w: TierBasis %q is neither %q nor %q", ErrInvalid, c.TierBasis, BasisPoints, BasisSpend)
	}
	for i, src := range c.CapSources {
		if src == "" {
			return fmt.Errorf("%w: CapSources[%d] is empty", ErrInvalid, i)
		}
	}
	if len(c.Tiers) == 0 || c.Tiers[0].Threshold != 0 {
		return fmt.Errorf("%w: Tiers must start with a tier at threshold 0", ErrInvalid)
	}
	for i, t := range c.Tiers {
		if t.Tier == "" || t.Multiplier < 1 {
			return fmt.Errorf("%w: Tiers[%d] needs a name and a multiplier >= 1", ErrInvalid, i)
		}
		if i > 0 && t.Threshold <= c.Tiers[i-1].Threshold {
			return fmt.Errorf("%w: Tiers[%d] threshold must exceed the one before", ErrInvalid, i)
		}
		for j, name := range t.Privileges {
			if name == "" {
				return fmt.Errorf("%w: Tiers[%d].Privileges[%d] is empty", ErrInvalid, i, j)
			}
		}
	}
	return ValidateCatalogue(c.Catalogue)
}

// Award asks for points. Key makes it idempotent (e.g. "quiz:<quiz>:<question>:<user>", "order:<id>").
//
// The idempotency window: a Store remembers a key (its record) until keepUntil: a participation award's until
// the end of the month after the month of At, an order's (Pending) for ExpiryMonths after At, as long as its
// refunds are accepted; each a day longer (recordSlack). The Ledger refuses an award dated before the start of
// last month (ErrInvalid), so an award sent again with its original At — as the award queue retries it,
// minutes or months later — is paid once, whenever it comes: while its record is kept it is a replay, and once
// the record may be gone it is refused. An order is posted again with a new At (the shop's retry, days later):
// its id is a replay for ExpiryMonths, and after that a new order.
type Award struct {
	Key    string // idempotency key, unique across all awards
	User   string
	Stream string // the stream the points count toward on its leaderboard; may be empty
	Source string // what earned them: "watch", "comment", "poll", "quiz", "feedback", "purchase", "question", …
	// Points is the base amount before the tier multiplier; it must be positive, except that a pending
	// award may be 0 (an order too small to earn points is still recorded under its key, so that its id is
	// taken and Refund knows it).
	Points int64
	// Participation says the tier multiplier applies (every source except purchases). Only participation
	// points count on the stream's leaderboard: purchase points would reveal what a user spends.
	Participation bool
	// Pending holds the points for the return window (purchases); Refund can cancel them.
	Pending bool
	// Fingerprint, if set, says what the key stands for (an order's user and amount): a later Award of the
	// same key with another non-empty Fingerprint is ErrConflict instead of a replay. A key first recorded
	// without one accepts any.
	Fingerprint string
	// At is when the points were earned; zero → the clock's now, a future time is taken as now. Its month
	// in Config.Location is the month whose cap they count against.
	At time.Time
	// Amount is a pending purchase's amount in the shop's smallest unit (fen): a partial refund of part of
	// it takes back that share of the points. 0: the order can only be refunded whole. It is also what the
	// order adds to the user's spend (tiers by spend, BasisSpend), in the month of At.
	Amount int64
	// Uncapped is set by the Ledger (callers' values are ignored): the source does not count toward the
	// monthly cap (Config.CapSources), so the award is paid in full and leaves the month's room unchanged.
	Uncapped bool
}

// AwardResult says what an Award did.
type AwardResult struct {
	Applied      bool  // false when the key was seen before: nothing changed, the rest is the original result
	Granted      int64 // points after the multiplier and the cap (pending ones included)
	Capped       int64 // overflow above the monthly cap, recorded but not granted
	Balance      int64 // spendable balance afterwards (pending points excluded)
	Tier         Tier  // the tier after the award
	PreviousTier Tier  // the tier last recorded for the user before it
	TierChanged  bool  // Tier != PreviousTier; an event for the engine
	// At is when the award counts, as first applied (Award.At, or the time of the call): a replay returns the
	// original, so that a caller re-publishing the award's events can give them the same ids.
	At time.Time
}

// Standing is a user's place on a stream's leaderboard.
type Standing struct {
	User   string `json:"user"`
	Points int64  `json:"points"`
	Rank   int    `json:"rank"`
}

// EntryKind says what a ledger entry records.
type EntryKind string

// Entry kinds. Points is signed and applies to the balance, except for EntryPending and EntryRefund
// (the pending amount) and EntryCapped (the overflow, granted to no one).
const (
	EntryAward    EntryKind = "award"    // points granted to the balance
	EntryPending  EntryKind = "pending"  // purchase points held for the return window
	EntrySettle   EntryKind = "settle"   // pending points moved to the balance
	EntryRefund   EntryKind = "refund"   // pending points cancelled by a refund (negative)
	EntryReversal EntryKind = "reversal" // settled points taken back by a late refund (negative)
	EntryCapped   EntryKind = "capped"   // overflow above the monthly cap
	EntryExpire   EntryKind = "expire"   // points expired (negative)
	EntryRedeem   EntryKind = "redeem"   // points spent on a reward (negative)
)

// Entry is one line of a user's append-only ledger.
type Entry struct {
	At        time.Time `json:"at"`
	Kind      EntryKind `json:"kind"`
	Points    int64     `json:"points"`
	Balance   int64     `json:"balance"` // balance after the entry
	Key       string    `json:"key,omitempty"`
	Stream    string    `json:"stream,omitempty"`
	Source    string    `json:"source,omitempty"` // the award's source, or the reward id of a redemption
	Shortfall int64     `json:"shortfall,omitempty"`
}

// Downgrade warns that a user's tier drops at the start of next month unless they earn Needed more points.
type Downgrade struct {
	From   Tier      `json:"from"`
	To     Tier      `json:"to"`
	At     time.Time `json:"at"`
	Needed int64     `json:"needed"`
	// Basis is the unit of Needed: BasisPoints (points to earn) or BasisSpend (whole yuan to spend).
	Basis string `json:"basis"`
}

// Account is a user's loyalty summary.
type Account struct {
	User            string     `json:"user"`
	Balance         int64      `json:"balance"`
	Pending         int64      `json:"pending"`
	Tier            Tier       `json:"tier"`
	EarnedThisMonth int64      `json:"earned_this_month"`
	Earned12Months  int64      `json:"earned_12_months"`
	MonthlyCap      int64      `json:"monthly_cap"`
	Capped          int64      `json:"capped"`
	Expired         int64      `json:"expired"`
	Shortfall       int64      `json:"shortfall"`
	Downgrade       *Downgrade `json:"downgrade,omitempty"` // set within DowngradeNotice of a tier drop
	Recent          []Entry    `json:"recent"`              // the last RecentEntries entries, oldest first

	// TierBasis is what the tier counts (BasisPoints, BasisSpend); Spent12Months the whole yuan spent in the
	// trailing twelve months (refunds deducted), what a tier by spend is judged on.
	TierBasis     string `json:"tier_basis"`
	Spent12Months int64  `json:"spent_12_months"`
	// Privileges are the display names of the tier's privileges (TierRule.Privileges); never null.
	Privileges []string `json:"privileges"`
}

// Ledger applies the loyalty rules over a Store. It is safe for concurrent use; all atomicity comes from
// the Store, so several nodes may share one RedisStore.
type Ledger struct {
	store Store
	cfg   Config
}

// NewLedger returns a Ledger over store (nil → a new MemoryStore) with cfg's defaults applied.
// A config that breaks the rules is ErrInvalid.
func NewLedger(store Store, cfg Config) (*Ledger, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		store = NewMemoryStore()
	}
	return &Ledger{store: store, cfg: cfg}, nil
}

// policy derives the rules' boundaries at now, on the calendar of l's Location.
func (l *Ledger) policy(now time.Time) Policy {
	now = now.UTC()
	loc := l.cfg.Location
	return Policy{
		Now:          now,
		Location:     loc,
		Month:        monthOf(now, loc),
		FirstMonth:   monthOf(monthStart(now, loc, -11), loc),
		ExpireBefore: now.In(loc).AddDate(0, -l.cfg.ExpiryMonths, 0).UTC(),
		SettleBefore: now.Add(-l.cfg.ReturnWindow),
		ReturnWindow: l.cfg.ReturnWindow,
		ExpiryMonths: l.cfg.ExpiryMonths,
		MonthlyCap:   l.cfg.MonthlyCap,
		Tiers:        l.cfg.Tiers,
		TierBasis:    l.cfg.TierBasis,
	}
}

// monthStart returns the first instant of the month months after t's month in loc, in UTC.
func monthStart(t time.Time, loc *time.Location, months int) time.Time {
	local := t.In(loc)
	return time.Date(local.Year(), local.Month()+time.Month(months), 1, 0, 0, 0, 0, loc).UTC()
}

// recordSlack is how much longer than the idempotency window (Award) a Store keeps an award's record: the
// clocks of nodes (and of Redis, which expires the key) may disagree by this much before a key could be
// forgotten by one while another still accepts it.
const recordSlack = 24 * time.Hour

// keepUntil is when a Store may forget the record of a, applied under p (a.At set): for a participation award
// the end of the month after a.At's month (the Ledger refuses a's key from then on), for an order (Pending)
// ExpiryMonths after a.At (its points have expired; Refund no longer finds it); each plus recordSlack. Months
// are p.Location's.
func (p Policy) keepUntil(a Award) time.Time {
	loc := p.location()
	if a.Pending {
		return a.At.In(loc).AddDate(0, p.ExpiryMonths, 0).UTC().Add(recordSlack)
	}
	return monthStart(a.At, loc, 2).Add(recordSlack)
}

// keepTTL is keepUntil as a duration from p.Now, at least a millisecond: what Redis counts down.
func (p Policy) keepTTL(a Award) time.Duration {
	return max(p.keepUntil(a).Sub(p.Now), time.Millisecond)
}

// Award grants a's points, multiplied by the user's tier if a.Participation and cut at the monthly cap.
// A key seen before (within its idempotency window, see Award) changes nothing and returns the original
// result with Applied false; with another Fingerprint it is ErrConflict. An award dated before the start of
// last month is ErrInvalid: too late to pay without the risk of paying it twice.
func (l *Ledger) Award(ctx context.Context, a Award) (AwardResult, error) {
	p := l.policy(l.cfg.Now())
	if a.Key == "" || a.User == "" || a.Points < 0 || (a.Points == 0 && !a.Pending) {
		return AwardResult{}, fmt.Errorf("award points to %q: %w: key, user and positive points required", a.User, ErrInvalid)
	}
	if a.At.IsZero() || a.At.After(p.Now) {
		a.At = p.Now
	}
	a.At = a.At.UTC()
	if a.At.Before(monthStart(p.Now, p.Location, -1)) {
		return AwardResult{}, fmt.Errorf("award points to %q: %w: earned before last month, when its key may be forgotten", a.User, ErrInvalid)
	}
	a.Uncapped = l.cfg.CapSources != nil && !slices.Contains(l.cfg.CapSources, a.Source)
	res, err := l.store.Award(ctx, a, p)
	if err != nil {
		return AwardResult{}, fmt.Errorf("award points to %q: %w", a.User, err)
	}
	return res, nil
}

// Recorded reports whether an award under key is on record (within its idempotency window, see Award): an
// Award with that key would replay it, or be ErrConflict, rather than pay again.
func (l *Ledger) Recorded(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, fmt.Errorf("read award record: %w: empty key", ErrInvalid)
	}
	ok, err := l.store.Recorded(ctx, key, l.policy(l.cfg.Now()))
	if err != nil {
		return false, fmt.Errorf("read award record %q: %w", key, err)
	}
	return ok, nil
}

// Account returns user's balance, tier and recent entries, settling and expiring points first.
// Tiers are judged on whole months, so they only drop when a month leaves the trailing twelve; Account
// warns of that drop DowngradeNotice ahead.
func (l *Ledger) Account(ctx context.Context, user string) (Account, error) {
	if user == "" {
		return Account{}, fmt.Errorf("read account: %w: empty user", ErrInvalid)
	}
	p := l.policy(l.cfg.Now())
	s, err := l.store.Snapshot(ctx, user, p)
	if err != nil {
		return Account{}, fmt.Errorf("read account of %q: %w", user, err)
	}
	var earned12, spent12 int64
	for m, v := range s.Earned {
		if m >= p.FirstMonth && m <= p.Month {
			earned12 += v
		}
	}
	for m, v := range s.Spent {
		if m >= p.FirstMonth && m <= p.Month {
			spent12 += v
		}
	}
	tier := tierFor(p.Tiers, p.standing(earned12, spent12))
	acct := Account{
		User:            user,
		Balance:         s.Balance,
		Pending:         s.Pending,
		Tier:            tier.Tier,
		EarnedThisMonth: s.Earned[p.Month],
		Earned12Months:  earned12,
		TierBasis:       p.TierBasis,
		Spent12Months:   spent12 / 100,
		Privileges:      append([]string{}, tier.Privileges...),
		MonthlyCap:      p.MonthlyCap,
		Capped:          s.Capped,
		Expired:         s.Expired,
		Shortfall:       s.Shortfall,
		Recent:          s.Recent,
	}
	if acct.Recent == nil {
		acct.Recent = []Entry{}
	}
	kept := p.standing(earned12-s.Earned[p.FirstMonth], spent12-s.Spent[p.FirstMonth])
	acct.Downgrade = l.downgrade(p, kept, tier)
	return acct, nil
}

// downgrade reports the drop that happens next month when the oldest counted month leaves the window: kept
// is the standing (points or yuan, p.standing) of the months that stay. Needed is in the same unit.
func (l *Ledger) downgrade(p Policy, kept int64, tier TierRule) *Downgrade {
	if l.cfg.DowngradeNotice < 0 {
		return nil
	}
	next := monthStart(p.Now, p.Location, 1)
	if next.Sub(p.Now) > l.cfg.DowngradeNotice {
		return nil
	}
	to := tierFor(p.Tiers, kept)
	if to.Threshold >= tier.Threshold {
		return nil
	}
	return &Downgrade{From: tier.Tier, To: to.Tier, At: next, Needed: tier.Threshold - kept, Basis: p.TierBasis}
}

// Entries returns user's whole ledger, oldest first, after settling and expiring.
func (l *Ledger) Entries(ctx context.Context, user string) ([]Entry, error) {
	if _, err := l.store.Snapshot(ctx, user, l.policy(l.cfg.Now())); err != nil {
		return nil, fmt.Errorf("read entries of %q: %w", user, err)
	}
	es, err := l.store.Entries(ctx, user, 0)
	if err != nil {
		return nil, fmt.Errorf("read entries of %q: %w", user, err)
	}
	return es, nil
}

// Leaderboard returns the top n (1–100; otherwise 10) users by participation points granted in stream
// (purchase points never count: a ranking by them would reveal what users spend).
func (l *Ledger) Leaderboard(ctx context.Context, stream string, n int) ([]Standing, error) {
	if n <= 0 || n > 100 {
		n = 10
	}
	st, err := l.store.Leaderboard(ctx, stream, n)
	if err != nil {
		return nil, fmt.Errorf("read leaderboard of %q: %w", stream, err)
	}
	return st, nil
}

// MonthlyCap returns the configured cap, for callers that show it.
func (l *Ledger) MonthlyCap() int64 { return l.cfg.MonthlyCap }

// Economics is the ledger's configuration as viewers may read it (GET /api/v1/rules): the cap and the
// sources that count toward it (nil: all), the tier basis and the tiers with their privileges, the return
// window and the months points last.
type Economics struct {
	MonthlyCap   int64
	CapSources   []string
	TierBasis    string
	Tiers        []TierRule
	ReturnWindow time.Duration
	ExpiryMonths int
}

// Economics returns a copy of the ledger's cap and tiers, defaults applied.
func (l *Ledger) Economics() Economics {
	tiers := make([]TierRule, len(l.cfg.Tiers))
	for i, t := range l.cfg.Tiers {
		t.Privileges = slices.Clone(t.Privileges)
		tiers[i] = t
	}
	return Economics{MonthlyCap: l.cfg.MonthlyCap, CapSources: slices.Clone(l.cfg.CapSources), TierBasis: l.cfg.TierBasis, Tiers: tiers,
		ReturnWindow: l.cfg.ReturnWindow, ExpiryMonths: l.cfg.ExpiryMonths}
}

// rankStandings sorts by points (most first) then user, and assigns competition ranks (1, 2, 2, 4).
func rankStandings(st []Standing) []Standing {
	sort.Slice(st, func(i, j int) bool {
		if st[i].Points != st[j].Points {
			return st[i].Points > st[j].Points
		}
		return st[i].User < st[j].User
	})
	for i := range st {
		if i > 0 && st[i].Points == st[i-1].Points {
			st[i].Rank = st[i-1].Rank
		} else {
			st[i].Rank = i + 1
		}
	}
	return st
}
