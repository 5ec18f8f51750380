package engagement

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/kudos-live/kudos/rewards"
)

// More ways to earn, from the shop: points the shop's backend awards for what happens outside the live room
// (a product review, a share), POST /api/v1/points/award. Which kinds exist, what each pays and how many a
// user may earn per business day are the rules file's (Rules.ShopAwards); the shop names each award with its
// own idempotency key, so a retry never pays twice.

// ShopAwardRule is one kind of shop award: Points each (before the tier multiplier, under the monthly cap
// when the kind is among the cap's sources), at most PerDay per user per business day.
type ShopAwardRule struct {
	Points int64 `json:"points"`
	PerDay int   `json:"per_day"`
}

// DefaultShopAwards are the kinds a rules file starts with: a product review and a share of the show.
func DefaultShopAwards() map[string]ShopAwardRule {
	return map[string]ShopAwardRule{
		"review": {Points: 10, PerDay: 3},
		"share":  {Points: 5, PerDay: 5},
	}
}

// shopAwardKind is what a kind may be called: it becomes the ledger source and the event's source.
var shopAwardKind = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// maxShopAwardKinds bounds the kinds a rules file may define.
const maxShopAwardKinds = 20

// validateShopAwards appends a problem for every kind of awards that breaks a rule.
func validateShopAwards(awards map[string]ShopAwardRule, add func(field, format string, args ...any)) {
	if len(awards) > maxShopAwardKinds {
		add("shop_awards", "at most %d kinds", maxShopAwardKinds)
	}
	for _, kind := range slices.Sorted(maps.Keys(awards)) {
		r := awards[kind]
		field := "shop_awards." + kind
		if !shopAwardKind.MatchString(kind) || slices.Contains(EarnSources(), kind) {
			add(field, "a kind is 1-32 of a-z, 0-9 and _ starting with a letter, and not one of the live sources %v", EarnSources())
		}
		if r.Points < 1 || r.Points > 10_000 {
			add(field+".points", "must be 1..10000, not %d", r.Points)
		}
		if r.PerDay < 1 || r.PerDay > 1000 {
			add(field+".per_day", "must be 1..1000, not %d", r.PerDay)
		}
	}
}

// ShopAward is an award the shop's backend asks for.
type ShopAward struct {
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	// Key is the shop's idempotency key for this award (say "review:SO-1001"): the same key pays once.
	Key string `json:"key"`
	// StreamID, if the award belongs to a show (a share of it), counts it on that show's leaderboard.
	StreamID string `json:"stream_id,omitempty"`
}

// ShopAwardResult is what an award did.
type ShopAwardResult struct {
	UserID   string       `json:"user_id"`
	Kind     string       `json:"kind"`
	Key      string       `json:"key"`
	Points   int64        `json:"points"` // granted, after the tier multiplier and the cap
	Capped   int64        `json:"capped"`
	Balance  int64        `json:"balance"`
	Tier     rewards.Tier `json:"tier"`
	Replayed bool         `json:"replayed"`
}

// AwardShopPoints pays a shop award (the shop's backend or an admin): once per key, at most the kind's
// per_day a business day per user (a replayed key is not counted again). Publishes kudos.points.awarded
// with the kind as its source; the outcome carries the points frame for the user's open rooms.
func (s *Service) AwardShopPoints(ctx context.Context, actor Actor, a ShopAward) (ShopAwardResult, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (ShopAwardResult, Outcome, error) {
		return s.doAwardShopPoints(ctx, actor, a)
	})
}

func (s *Service) doAwardShopPoints(ctx context.Context, actor Actor, a ShopAward) (ShopAwardResult, Outcome, error) {
	if err := RequireShop(actor, "awards points for reviews and shares"); err != nil {
		return ShopAwardResult{}, Outcome{}, err
	}
	if err := validID("user_id", a.UserID); err != nil {
		return ShopAwardResult{}, Outcome{}, err
	}
	rule, ok := s.scorer.rules.ShopAwards[a.Kind]
	if !ok {
		return ShopAwardResult{}, Outcome{}, Invalid("kind", "kind must be one of %v (the rules file's shop_awards)", slices.Sorted(maps.Keys(s.scorer.rules.ShopAwards)))
	}
	if err := validID("key", a.Key); err != nil {
		return ShopAwardResult{}, Outcome{}, err
	}
	if a.StreamID != "" {
		if _, err := s.Stream(ctx, a.StreamID); err != nil {
			return ShopAwardResult{}, Outcome{}, err
		}
	}
	now := s.now()
	key := "shop:" + a.Kind + ":" + a.Key
	// A key the ledger has on record is a replay (or a conflict): it takes no slot of the day, however late
	// the retry (the daily slots remember their ids for a day or two, the ledger until the month after).
	recorded, err := s.ledger.Recorded(ctx, key)
	if err != nil {
		return ShopAwardResult{}, Outcome{}, fmt.Errorf("look up %s award %q: %w", a.Kind, a.Key, ledgerError(err))
	}
	if !recorded {
		day := s.notifyConfig().day(now) // the business day, as the notifications' daily limit counts it
		taken, _, err := s.store.TakeDaily(ctx, a.UserID, "shop-award:"+a.Kind, a.Key, day, rule.PerDay)
		if err != nil {
			return ShopAwardResult{}, Outcome{}, fmt.Errorf("count %s awards of %s: %w", a.Kind, a.UserID, err)
		}
		if !taken {
			return ShopAwardResult{}, Outcome{}, Errorf(CodeLimitReached, "%s has had %d %s awards today (the most per business day)", a.UserID, rule.PerDay, a.Kind)
		}
	}
	res, err := s.ledger.Award(ctx, rewards.Award{Key: key, User: a.UserID, Stream: a.StreamID, Source: a.Kind, Points: rule.Points,
		Participation: true, Fingerprint: "user=" + a.UserID + " stream=" + a.StreamID, At: now})
	if errors.Is(err, rewards.ErrConflict) {
		return ShopAwardResult{}, Outcome{}, Errorf(CodeConflict, "key %q was used for an award to another user or stream", a.Key)
	}
	if err != nil {
		return ShopAwardResult{}, Outcome{}, fmt.Errorf("award %s points to %s: %w", a.Kind, a.UserID, ledgerError(err))
	}
	// A replay publishes the events again with the same ids: the first answer may have been lost before they
	// were durable.
	s.emitAward(ctx, a.UserID, a.StreamID, Scored{Key: key, Source: a.Kind, Points: rule.Points}, res)
	s.publishFacts(ctx, a.UserID)
	out := Outcome{Stream: a.StreamID}
	if out.Stream == "" { // the frame goes to the room the user joined last, as a notification does
		if last, err := s.store.LastStream(ctx, a.UserID); err == nil {
			out.Stream = last
		}
	}
	if res.Applied && res.Granted > 0 && out.Stream != "" {
		out.Direct = append(out.Direct, Direct{User: a.UserID, Frame: Frame{Type: "points", Data: map[string]any{
			"balance": res.Balance, "tier": res.Tier, "delta": res.Granted, "reason": "Shop reward: " + a.Kind, "source": a.Kind,
			"capped": res.Capped, "pending": false,
		}}})
	}
	return ShopAwardResult{UserID: a.UserID, Kind: a.Kind, Key: a.Key, Points: res.Granted, Capped: res.Capped, Balance: res.Balance,
		Tier: res.Tier, Replayed: !res.Applied}, out, nil
}

// DailyStore counts a user's decisions of one kind per business day, idempotently by id (the shop awards'
// per_day limits).
type DailyStore interface {
	// TakeDaily takes one of limit slots of user's kind on day for id: taken is true when id took a slot, now
	// or on day or the day before (replayed); false when limit ids took one already on day, and then nothing
	// is remembered, so the id may try again. Atomic per user, kind and day; a slot is remembered until the
	// day after day has ended.
	TakeDaily(ctx context.Context, user, kind, id, day string, limit int) (taken, replayed bool, err error)
}
