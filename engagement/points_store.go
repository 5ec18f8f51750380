package engagement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// The points store: the reward catalogue the shop configures (SetCatalogue), the codes its coupon items give
// (indexed with the coupon drops' codes, so the checkout's CouponByCode and RedeemCouponCode take them) and
// the claims of its gift items that the shop fulfils (FulfilRedemption).

// Catalogue limits.
const (
	MaxCatalogueItems   = 200
	MaxRewardTitleRunes = 120
	// RewardCodeValidity is how long a points-store coupon code is honoured after its redemption.
	RewardCodeValidity = 30 * 24 * time.Hour
)

// SetCatalogue replaces the reward catalogue for every node (the shop's backend or an admin) and returns it
// as Rewards lists it. Items: unique ids, a title, cost >= 1, kind coupon or gift, stock and per_user_limit
// >= 0 (0: unlimited), a coupon's discount_fen >= 1 and min_spend_fen 0 or at least discount_fen; a gift
// carries no amounts. Bad input is invalid naming the field ("items[2].cost").
// Publishes kudos.catalogue.changed with the new items.
func (s *Service) SetCatalogue(ctx context.Context, actor Actor, items []rewards.Reward) ([]rewards.Reward, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) ([]rewards.Reward, Outcome, error) {
		v, err := s.doSetCatalogue(ctx, actor, items)
		return v, Outcome{}, err
	})
	return v, err
}

// doSetCatalogue is SetCatalogue, less the admission and the publication of its event.
func (s *Service) doSetCatalogue(ctx context.Context, actor Actor, items []rewards.Reward) ([]rewards.Reward, error) {
	if err := RequireShop(actor, "replaces the reward catalogue"); err != nil {
		return nil, err
	}
	clean, err := cleanCatalogue(items)
	if err != nil {
		return nil, err
	}
	if err := s.ledger.SetCatalogue(ctx, clean); err != nil {
		return nil, fmt.Errorf("replace the catalogue: %w", ledgerError(err))
	}
	listed := make([]map[string]any, 0, len(clean))
	for _, r := range clean {
		item := map[string]any{"id": r.ID, "title": r.Title, "cost": r.Cost, "kind": r.Kind, "stock": r.Stock}
		if r.PerUserLimit > 0 {
			item["per_user_limit"] = r.PerUserLimit
		}
		if r.DiscountFen > 0 {
			item["discount_fen"], item["min_spend_fen"] = r.DiscountFen, r.MinSpendFen
		}
		listed = append(listed, item)
	}
	s.emit(ctx, EventCatalogueChanged, "", actor.User, map[string]any{"items": listed})
	return s.Rewards(ctx)
}

func cleanCatalogue(items []rewards.Reward) ([]rewards.Reward, error) {
	if items == nil {
		return nil, Invalid("items", "items is required (an empty list empties the catalogue)")
	}
	if len(items) > MaxCatalogueItems {
		return nil, Invalid("items", "items holds at most %d rewards", MaxCatalogueItems)
	}
	seen := map[string]bool{}
	out := make([]rewards.Reward, len(items))
	for i, r := range items {
		f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		if err := validID(f("id"), r.ID); err != nil {
			return nil, err
		}
		if seen[r.ID] {
			return nil, Invalid(f("id"), "%s: id %q is listed twice", f("id"), r.ID)
		}
		seen[r.ID] = true
		title, err := CleanText(f("title"), r.Title, MaxRewardTitleRunes)
		if err != nil {
			return nil, err
		}
		switch {
		case r.Cost < 1 || r.Cost > 1_000_000_000:
			return nil, Invalid(f("cost"), "%s must be 1..1000000000 points", f("cost"))
		case r.Kind != rewards.KindCoupon && r.Kind != rewards.KindGift:
			return nil, Invalid(f("kind"), "%s must be coupon or gift", f("kind"))
		case r.Stock < 0 || r.Stock > 100_000_000:
			return nil, Invalid(f("stock"), "%s must be 0 (unlimited) ..100000000", f("stock"))
		case r.PerUserLimit < 0 || r.PerUserLimit > 1_000_000:
			return nil, Invalid(f("per_user_limit"), "%s must be 0 (no limit) ..1000000", f("per_user_limit"))
		case r.Kind == rewards.KindCoupon && (r.DiscountFen < 1 || r.DiscountFen > MaxCouponDiscountFen):
			return nil, Invalid(f("discount_fen"), "%s of a coupon must be 1..%d", f("discount_fen"), MaxCouponDiscountFen)
		case r.Kind == rewards.KindCoupon && (r.MinSpendFen < 0 || r.MinSpendFen > MaxCouponMinSpendFen):
			return nil, Invalid(f("min_spend_fen"), "%s must be 0..%d", f("min_spend_fen"), int64(MaxCouponMinSpendFen))
		case r.Kind == rewards.KindCoupon && r.MinSpendFen > 0 && r.MinSpendFen < r.DiscountFen:
			return nil, Invalid(f("min_spend_fen"), "%s must be at least discount_fen", f("min_spend_fen"))
		case r.Kind == rewards.KindGift && (r.DiscountFen != 0 || r.MinSpendFen != 0):
			return nil, Invalid(f("discount_fen"), "a gift has no discount_fen or min_spend_fen")
		}
		out[i] = rewards.Reward{ID: r.ID, Title: title, Cost: r.Cost, Kind: r.Kind, Stock: r.Stock, PerUserLimit: r.PerUserLimit,
			DiscountFen: r.DiscountFen, MinSpendFen: r.MinSpendFen}
	}
	return out, nil
}

// redeemItem runs one redemption on the ledger. A coupon item's code is drawn here and stored with the
// redemption, so a replay of the request id returns the code stored first; it is then (again) added to the
// codes index, which keeps the first record: a redemption whose indexing failed is indexed by its replay.
func (s *Service) redeemItem(ctx context.Context, user, rewardID, requestID string) (rewards.Redemption, error) {
	r, err := s.ledger.RedeemItem(ctx, rewards.RedeemRequest{User: user, RewardID: rewardID, RequestID: requestID, Code: newCouponCode()})
	if err != nil {
		return r, err
	}
	if r.Kind == rewards.KindCoupon && r.Code != "" {
		exp := r.At.Add(RewardCodeValidity).UTC()
		r.ExpiresAt = &exp
		rec := ClaimedCode{CouponID: r.RewardID, UserID: user, DiscountFen: r.DiscountFen, MinSpendFen: r.MinSpendFen,
			ExpiresAt: exp, Status: CodeStatusClaimed, RedemptionID: requestID}
		if err := s.store.IndexCouponCode(ctx, r.Code, rec); err != nil {
			return rewards.Redemption{}, fmt.Errorf("index the code of %s: %w", requestID, err)
		}
	}
	return r, nil
}

// FulfilRedemption marks a gift redemption fulfilled (the shop's backend or an admin), by its claim id: the
// first call marks it, every later one returns it as the first left it. Publishes redemption.fulfilled
// (again with the same id on a later call).
func (s *Service) FulfilRedemption(ctx context.Context, actor Actor, claimID string) (rewards.Redemption, error) {
	v, _, err := runAct(ctx, s, func(ctx context.Context) (rewards.Redemption, Outcome, error) {
		v, err := s.doFulfilRedemption(ctx, actor, claimID)
		return v, Outcome{}, err
	})
	return v, err
}

func (s *Service) doFulfilRedemption(ctx context.Context, actor Actor, claimID string) (rewards.Redemption, error) {
	if err := RequireShop(actor, "fulfils redemptions"); err != nil {
		return rewards.Redemption{}, err
	}
	if err := validID("claim_id", claimID); err != nil {
		return rewards.Redemption{}, err
	}
	r, err := s.ledger.Fulfil(ctx, claimID)
	if errors.Is(err, rewards.ErrNotFound) {
		return rewards.Redemption{}, Errorf(CodeNotFound, "no redemption with claim id %q", claimID)
	}
	if err != nil {
		return rewards.Redemption{}, fmt.Errorf("fulfil %s: %w", claimID, ledgerError(err))
	}
	at := s.now()
	if r.FulfilledAt != nil {
		at = *r.FulfilledAt
	}
	s.emitOnce(ctx, "fulfil:"+claimID, at, EventRedemptionFulfilled, "", r.User, map[string]any{
		"claim_id": claimID, "reward_id": r.RewardID, "request_id": r.ID, "fulfilled_at": at.UTC(),
	})
	return r, nil
}
