package engagement

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kudos-live/kudos/rewards"
)

// Economics is the loyalty section of the rules file ("loyalty"): what the ledger (package rewards) applies
// after the scorer, as data. DefaultEconomics is the playbook: 1 yuan = 1 point (purchase.per_yuan), 1000
// points a month over every source, bronze → silver → gold by points, 7 days pending, 12 months to expire.
type Economics struct {
	// MonthlyCap is the most points granted per calendar month over the sources in CapSources.
	MonthlyCap int64 `json:"monthly_cap"`
	// CapSources lists the sources (Source*: watch, comment, poll, quiz, feedback, question, purchase) whose
	// points count toward the cap; the others are paid in full. Empty or left out: every source counts.
	CapSources []string `json:"cap_sources,omitempty"`
	// TierBasis is what tier thresholds count over the trailing twelve months: "points" (points earned) or
	// "spend" (whole yuan spent on purchases, refunds deducted): the playbook's 按积分或消费金额.
	TierBasis string `json:"tier_basis"`
	// Tiers ascend by threshold, the first at 0; each with its multiplier (>= 1) and privileges (names the
	// viewer's page shows, e.g. 优先客服, 新品试用, 包邮).
	Tiers []rewards.TierRule `json:"tiers"`
	// PendingDays is the return window: purchase points stay pending this many days before they settle.
	PendingDays int64 `json:"pending_days"`
	// ExpiryMonths is how many months after being earned points expire.
	ExpiryMonths int64 `json:"expiry_months"`
	// Catalogue is the points store's catalogue until one is stored with PUT /api/v1/catalogue (the same
	// item shape).
	Catalogue []CatalogueItem `json:"catalogue"`
	// OnErase is what becomes of an erased user's spendable balance (EraseUser): OnEraseForfeit (the
	// default; "" in a Rules built in code means it too) or OnEraseKeep.
	OnErase string `json:"on_erase,omitempty"`
}

// What loyalty.on_erase may say.
const (
	// OnEraseForfeit forfeits the balance: a redemption of ForfeitRewardID, published as points.redeemed.
	OnEraseForfeit = "forfeit"
	// OnEraseKeep leaves the balance in the ledger under the id (no one can spend it: the id's tokens are
	// refused), for a shop whose terms give it back another way.
	OnEraseKeep = "keep"
)

// CatalogueItem is a reward of the catalogue in the rules file, as PUT /api/v1/catalogue takes it. Cost is
// a pointer so that a missing cost is told apart from a wrong one.
type CatalogueItem struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	Cost         *int64 `json:"cost"`
	Kind         string `json:"kind,omitempty"`
	Stock        int64  `json:"stock,omitempty"`
	PerUserLimit int64  `json:"per_user_limit,omitempty"`
	DiscountFen  int64  `json:"discount_fen,omitempty"`
	MinSpendFen  int64  `json:"min_spend_fen,omitempty"`
}

// Bounds of the economics a rules file may set.
const (
	maxPendingDays  = 365
	maxExpiryMonths = 120
	maxTierMult     = 10.0
	maxPrivilegeLen = 40 // characters of one privilege's display name
	maxPrivileges   = 20 // per tier
	maxTiers        = 20
)

// EarnSources are the sources of points, as Award.Source and cap_sources name them.
func EarnSources() []string {
	return []string{SourceWatch, SourceComment, SourcePoll, SourceQuiz, SourceFeedback, SourceQuestion, SourcePurchase}
}

// DefaultEconomics returns the playbook's economics (docs/architecture.md, "Scoring").
func DefaultEconomics() Economics {
	def := rewards.DefaultCatalogue()
	cat := make([]CatalogueItem, len(def))
	for i, r := range def {
		cost := r.Cost
		cat[i] = CatalogueItem{ID: r.ID, Title: r.Title, Cost: &cost, Kind: r.Kind, Stock: r.Stock,
			PerUserLimit: r.PerUserLimit, DiscountFen: r.DiscountFen, MinSpendFen: r.MinSpendFen}
	}
	return Economics{
		MonthlyCap:   1000,
		TierBasis:    rewards.BasisPoints,
		Tiers:        rewards.DefaultTiers(),
		PendingDays:  7,
		ExpiryMonths: 12,
		Catalogue:    cat,
		OnErase:      OnEraseForfeit,
	}
}

// LedgerConfig returns the ledger configuration of e; the caller adds the clock and the business calendar.
// Zero values (a Rules built without Loyalty) leave the ledger's defaults, which are DefaultEconomics.
func (e Economics) LedgerConfig() rewards.Config {
	cfg := rewards.Config{
		MonthlyCap:   e.MonthlyCap,
		TierBasis:    e.TierBasis,
		ReturnWindow: time.Duration(e.PendingDays) * 24 * time.Hour,
		ExpiryMonths: int(e.ExpiryMonths),
	}
	if len(e.CapSources) > 0 {
		cfg.CapSources = slices.Clone(e.CapSources)
	}
	for _, t := range e.Tiers {
		t.Privileges = slices.Clone(t.Privileges)
		cfg.Tiers = append(cfg.Tiers, t)
	}
	if e.Catalogue != nil {
		cfg.Catalogue = make([]rewards.Reward, 0, len(e.Catalogue))
	}
	for _, it := range e.Catalogue {
		var cost int64
		if it.Cost != nil {
			cost = *it.Cost
		}
		cfg.Catalogue = append(cfg.Catalogue, rewards.Reward{ID: it.ID, Title: it.Title, Cost: cost, Kind: it.Kind,
			Stock: it.Stock, PerUserLimit: it.PerUserLimit, DiscountFen: it.DiscountFen, MinSpendFen: it.MinSpendFen})
	}
	return cfg
}

// validate appends a problem for every value of e that breaks a rule, each naming its field under prefix;
// sources are the sources of points there are (EarnSources and the rules' shop award kinds).
func (e Economics) validate(prefix string, sources []string, add func(field, format string, args ...any)) {
	if e.MonthlyCap < 1 {
		add(prefix+"monthly_cap", "must be at least 1 (points per month), not %d", e.MonthlyCap)
	}
	seenSrc := map[string]bool{}
	for i, src := range e.CapSources {
		f := fmt.Sprintf("%scap_sources[%d]", prefix, i)
		switch {
		case !slices.Contains(sources, src):
			add(f, "%q is not a source of points; the sources are %v", src, sources)
		case seenSrc[src]:
			add(f, "%q is listed twice", src)
		}
		seenSrc[src] = true
	}
	if e.TierBasis != rewards.BasisPoints && e.TierBasis != rewards.BasisSpend {
		add(prefix+"tier_basis", "must be %q or %q, not %q", rewards.BasisPoints, rewards.BasisSpend, e.TierBasis)
	}
	switch {
	case len(e.Tiers) == 0:
		add(prefix+"tiers", "must list at least one tier, the first at threshold 0")
	case len(e.Tiers) > maxTiers:
		add(prefix+"tiers", "lists %d tiers; at most %d", len(e.Tiers), maxTiers)
	}
	seenTier := map[rewards.Tier]bool{}
	for i, t := range e.Tiers {
		f := fmt.Sprintf("%stiers[%d].", prefix, i)
		switch {
		case t.Tier == "":
			add(f+"tier", "every tier needs a name")
		case seenTier[t.Tier]:
			add(f+"tier", "tier %q is listed twice", t.Tier)
		}
		seenTier[t.Tier] = true
		switch {
		case i == 0 && t.Threshold != 0:
			add(f+"threshold", "the first tier starts at 0, not %d", t.Threshold)
		case i > 0 && t.Threshold <= e.Tiers[i-1].Threshold:
			add(f+"threshold", "tiers must ascend: %d does not exceed the threshold before it (%d)", t.Threshold, e.Tiers[i-1].Threshold)
		}
		if t.Multiplier < 1 || t.Multiplier > maxTierMult {
			add(f+"multiplier", "must be between 1 and %g, not %g", maxTierMult, t.Multiplier)
		}
		if len(t.Privileges) > maxPrivileges {
			add(f+"privileges", "lists %d privileges; at most %d", len(t.Privileges), maxPrivileges)
		}
		seenPriv := map[string]bool{}
		for j, p := range t.Privileges {
			pf := fmt.Sprintf("%sprivileges[%d]", f, j)
			switch {
			case p == "" || utf8.RuneCountInString(p) > maxPrivilegeLen:
				add(pf, "a privilege is a display name of 1 to %d characters", maxPrivilegeLen)
			case seenPriv[p]:
				add(pf, "%q is listed twice", p)
			}
			seenPriv[p] = true
		}
	}
	if e.PendingDays < 1 || e.PendingDays > maxPendingDays {
		add(prefix+"pending_days", "must be between 1 and %d days, not %d", maxPendingDays, e.PendingDays)
	}
	if e.ExpiryMonths < 1 || e.ExpiryMonths > maxExpiryMonths {
		add(prefix+"expiry_months", "must be between 1 and %d months, not %d", maxExpiryMonths, e.ExpiryMonths)
	} else if e.PendingDays >= 28*e.ExpiryMonths && e.PendingDays <= maxPendingDays {
		// Points expire ExpiryMonths after they were earned (a purchase's: at its order), and a pending order
		// is refundable only as long: a window that long settles points straight into expiry.
		add(prefix+"pending_days", "must be shorter than expiry_months (%d month(s), at least %d days): purchase points would expire as they settle, not %d",
			e.ExpiryMonths, 28*e.ExpiryMonths, e.PendingDays)
	}
	if e.OnErase != "" && e.OnErase != OnEraseForfeit && e.OnErase != OnEraseKeep {
		add(prefix+"on_erase", "must be %q or %q, not %q", OnEraseForfeit, OnEraseKeep, e.OnErase)
	}
	if len(e.Catalogue) > MaxCatalogueItems {
		add(prefix+"catalogue", "lists %d items; at most %d (as PUT /api/v1/catalogue)", len(e.Catalogue), MaxCatalogueItems)
	}
	seenID := map[string]bool{}
	for i, it := range e.Catalogue {
		f := fmt.Sprintf("%scatalogue[%d].", prefix, i)
		switch {
		case it.ID == "":
			add(f+"id", "every item needs an id")
		case seenID[it.ID]:
			add(f+"id", "id %q is listed twice", it.ID)
		}
		seenID[it.ID] = true
		if it.Title == "" {
			add(f+"title", "every item needs a title")
		}
		switch {
		case it.Cost == nil:
			add(f+"cost", "is missing: every item costs a positive number of points")
		case *it.Cost < 1:
			add(f+"cost", "must be a positive number of points, not %d", *it.Cost)
		}
		switch it.Kind {
		case rewards.KindGift:
		case rewards.KindCoupon:
			if it.DiscountFen < 1 {
				add(f+"discount_fen", "a coupon needs a positive discount_fen")
			}
		default:
			add(f+"kind", "must be %q or %q, not %q", rewards.KindCoupon, rewards.KindGift, it.Kind)
		}
		bad := false
		for _, amt := range []struct {
			name string
			v    int64
		}{{"stock", it.Stock}, {"per_user_limit", it.PerUserLimit}, {"discount_fen", it.DiscountFen}, {"min_spend_fen", it.MinSpendFen}} {
			if amt.v < 0 {
				add(f+amt.name, "must not be negative, not %d", amt.v)
				bad = true
			}
		}
		// The rest of PUT /api/v1/catalogue's policy (id characters, title, bounds, a gift without amounts),
		// for an item the checks above found nothing wrong with: one policy for both ways in.
		if it.ID == "" || it.Title == "" || it.Cost == nil || *it.Cost < 1 || bad || (it.Kind != rewards.KindGift && it.Kind != rewards.KindCoupon) {
			continue
		}
		if _, err := cleanCatalogue([]rewards.Reward{{ID: it.ID, Title: it.Title, Cost: *it.Cost, Kind: it.Kind, Stock: it.Stock,
			PerUserLimit: it.PerUserLimit, DiscountFen: it.DiscountFen, MinSpendFen: it.MinSpendFen}}); err != nil {
			field := strings.Replace(FieldOf(err), "items[0].", f, 1)
			add(field, "%s", strings.TrimPrefix(MessageOf(err), "items[0]."))
		}
	}
}

// PublicRules is what anyone may read of the rules (GET /api/v1/rules): how to earn points, the monthly cap
// and the sources it counts, the tiers with their thresholds, multipliers and privileges, the pending
// window and expiry. Not the limits that keep the scoring fair (intervals, per-stream maxima), which stay
// internal.
type PublicRules struct {
	Earn         []EarnRule   `json:"earn"`
	ReplayShare  float64      `json:"replay_share"`
	MonthlyCap   int64        `json:"monthly_cap"`
	CapSources   []string     `json:"cap_sources"`
	TierBasis    string       `json:"tier_basis"`
	Tiers        []PublicTier `json:"tiers"`
	PendingDays  int64        `json:"pending_days"`
	ExpiryMonths int64        `json:"expiry_months"`
}

// EarnRule is one way to earn points: Points per Per (a quiz answer scores up to Points, UpTo).
type EarnRule struct {
	Kind   string `json:"kind"`
	Source string `json:"source"` // the source its points carry (ledger entries, events, cap_sources)
	Points int64  `json:"points"`
	Per    string `json:"per"`
	UpTo   bool   `json:"up_to,omitempty"`
	PerDay int    `json:"per_day,omitempty"` // at most this many a business day (shop awards)
}

// PublicTier is a tier as viewers see it; Threshold counts points, or yuan with tier_basis "spend".
type PublicTier struct {
	Tier       rewards.Tier `json:"tier"`
	Threshold  int64        `json:"threshold"`
	Multiplier float64      `json:"multiplier"`
	Privileges []string     `json:"privileges"`
}

// PublicRules returns the rules as anyone may read them: the base scoring rules (A/B variants are not
// shown) and the ledger's economics.
func (s *Service) PublicRules() PublicRules {
	r := s.scorer.Rules()
	e := s.ledger.Economics()
	out := PublicRules{
		Earn: []EarnRule{
			{Kind: "watch", Source: SourceWatch, Points: r.Watch.PerMinute, Per: "minute"},
			{Kind: "comment", Source: SourceComment, Points: r.Comment.Points, Per: "comment"},
			{Kind: "poll", Source: SourcePoll, Points: r.Poll.Points, Per: "vote"},
			{Kind: "quiz", Source: SourceQuiz, Points: r.Quiz.Max, Per: "correct answer", UpTo: true},
			{Kind: "feedback", Source: SourceFeedback, Points: r.Feedback.Points, Per: "show"},
			{Kind: "question_ask", Source: SourceQuestion, Points: r.QuestionAsk.Points, Per: "question"},
			{Kind: "question_upvote", Source: SourceQuestion, Points: r.QuestionUpvote.Points, Per: "upvote"},
			{Kind: "purchase", Source: SourcePurchase, Points: r.Purchase.PerYuan, Per: "yuan"},
		},
		ReplayShare:  r.ReplayShare,
		MonthlyCap:   e.MonthlyCap,
		CapSources:   e.CapSources,
		TierBasis:    e.TierBasis,
		PendingDays:  int64(e.ReturnWindow / (24 * time.Hour)),
		ExpiryMonths: int64(e.ExpiryMonths),
	}
	for _, kind := range slices.Sorted(maps.Keys(r.ShopAwards)) {
		out.Earn = append(out.Earn, EarnRule{Kind: kind, Source: kind, Points: r.ShopAwards[kind].Points, Per: "award from the shop",
			PerDay: r.ShopAwards[kind].PerDay})
	}
	if out.CapSources == nil {
		out.CapSources = append(EarnSources(), slices.Sorted(maps.Keys(r.ShopAwards))...)
	}
	for _, t := range e.Tiers {
		p := t.Privileges
		if p == nil {
			p = []string{}
		}
		out.Tiers = append(out.Tiers, PublicTier{Tier: t.Tier, Threshold: t.Threshold, Multiplier: t.Multiplier, Privileges: p})
	}
	return out
}
