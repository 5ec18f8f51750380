// The points store: the catalogue of rewards (shared by every node through the Store), redemptions with
// their stock and per-user limits, and the shop fulfilling gifts.

package rewards

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reward is an item of the redemption catalogue (the points store).
type Reward struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Cost  int64  `json:"cost"`
	// Kind says what a redemption gives: KindCoupon (a checkout code worth DiscountFen off an order of at
	// least MinSpendFen), KindGift (a claim the shop fulfils). "" (a catalogue from before kinds) is neither.
	Kind string `json:"kind,omitempty"`
	// Stock is how many units the reward has in all, 0 for unlimited: units left = Stock − units redeemed, so
	// raising it adds units and replacing the catalogue with the same stock changes nothing.
	Stock int64 `json:"stock"`
	// PerUserLimit is how many times one user may redeem it; 0 is no limit.
	PerUserLimit int64 `json:"per_user_limit,omitempty"`
	DiscountFen  int64 `json:"discount_fen,omitempty"`
	MinSpendFen  int64 `json:"min_spend_fen,omitempty"`
	// Remaining is the units left of a limited reward, filled by Ledger.Available.
	Remaining *int64 `json:"remaining,omitempty"`
}

// Kinds of rewards (Reward.Kind).
const (
	KindCoupon = "coupon"
	KindGift   = "gift"
)

// DefaultCatalogue returns the built-in rewards: the catalogue until one is stored (Ledger.SetCatalogue).
func DefaultCatalogue() []Reward {
	return []Reward{
		{ID: "coupon-5", Title: "¥5 off any order", Cost: 500, Kind: KindCoupon, Stock: 0, DiscountFen: 500},
		{ID: "coupon-20", Title: "¥20 off orders over ¥100", Cost: 1800, Kind: KindCoupon, Stock: 1000, DiscountFen: 2000, MinSpendFen: 10000},
		{ID: "free-shipping", Title: "Free shipping on one order", Cost: 300, Kind: KindGift, Stock: 0},
		{ID: "coupon-100", Title: "¥100 off orders over ¥500", Cost: 8000, Kind: KindCoupon, Stock: 50, DiscountFen: 10000, MinSpendFen: 50000},
	}
}

// ValidateCatalogue checks a catalogue: unique non-empty ids, cost >= 1, stock and per_user_limit >= 0, a
// known kind, discount_fen >= 1 on a coupon, min_spend_fen >= 0. An error is ErrInvalid and names the item.
func ValidateCatalogue(rs []Reward) error {
	seen := map[string]bool{}
	for i, r := range rs {
		switch {
		case r.ID == "" || seen[r.ID]:
			return fmt.Errorf("%w: Catalogue[%d] needs a unique id", ErrInvalid, i)
		case r.ID == ForfeitRewardID:
			return fmt.Errorf("%w: Catalogue[%d] takes the reserved id %q (forfeits on erasure)", ErrInvalid, i, r.ID)
		case r.Cost <= 0:
			return fmt.Errorf("%w: Catalogue[%d] needs a positive cost", ErrInvalid, i)
		case r.Stock < 0 || r.PerUserLimit < 0 || r.DiscountFen < 0 || r.MinSpendFen < 0:
			return fmt.Errorf("%w: Catalogue[%d] stock, per_user_limit and amounts must not be negative", ErrInvalid, i)
		case r.Kind != "" && r.Kind != KindCoupon && r.Kind != KindGift:
			return fmt.Errorf("%w: Catalogue[%d] kind %q is neither coupon nor gift", ErrInvalid, i, r.Kind)
		case r.Kind == KindCoupon && r.DiscountFen < 1:
			return fmt.Errorf("%w: Catalogue[%d] is a coupon without discount_fen", ErrInvalid, i)
		}
		seen[r.ID] = true
	}
	return nil
}

// Redemption is a reward redeemed by a user.
type Redemption struct {
	ID       string    `json:"id"` // the request id
	User     string    `json:"user"`
	RewardID string    `json:"reward_id"`
	Cost     int64     `json:"cost"`
	At       time.Time `json:"at"`
	Balance  int64     `json:"balance"`            // balance right after the debit
	Replayed bool      `json:"replayed,omitempty"` // this call was a replay: nothing changed
	// Kind, DiscountFen and MinSpendFen are the reward's at the redemption.
	Kind        string `json:"kind,omitempty"`
	DiscountFen int64  `json:"discount_fen,omitempty"`
	MinSpendFen int64  `json:"min_spend_fen,omitempty"`
	// Code is a coupon reward's checkout code (RedeemRequest.Code as first stored); ExpiresAt, filled by the
	// caller that issues codes, is when it stops being honoured.
	Code      string     `json:"code,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// ClaimID names a gift redemption for the shop that fulfils it (ClaimID); FulfilledAt is when it did.
	ClaimID     string     `json:"claim_id,omitempty"`
	FulfilledAt *time.Time `json:"fulfilled_at,omitempty"`
}

// RedeemRequest asks for a reward. RequestID makes it idempotent per user.
type RedeemRequest struct {
	User      string
	RewardID  string
	RequestID string
	// Code is stored with a coupon reward's redemption when it is applied; a replay returns the code stored
	// first, whatever is given.
	Code string
	// ClaimID is set by the Ledger for a gift reward (ClaimID).
	ClaimID string
}

// ClaimID is the claim id of a gift redeemed by user under requestID: derived, so a replay has the same one,
// and unique across users.
func ClaimID(user, requestID string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + requestID))
	return "gift-" + hex.EncodeToString(sum[:12])
}

// Redeem spends a reward's cost from user's balance, oldest points first, and takes one unit of its stock.
// It is idempotent by requestID: a replay returns the original redemption with Replayed set.
func (l *Ledger) Redeem(ctx context.Context, user, rewardID, requestID string) (Redemption, error) {
	return l.RedeemItem(ctx, RedeemRequest{User: user, RewardID: rewardID, RequestID: requestID})
}

// RedeemItem is Redeem with a coupon's code to store (RedeemRequest.Code). The reward is looked up in the
// current catalogue; its stock and per-user limit are enforced in the same atomic step as the debit
// (ErrOutOfStock, ErrLimitReached). A redemption racing a SetCatalogue is priced by the catalogue read just
// before its step (the cost, stock and limit of that moment).
func (l *Ledger) RedeemItem(ctx context.Context, req RedeemRequest) (Redemption, error) {
	if req.User == "" || req.RequestID == "" {
		return Redemption{}, fmt.Errorf("redeem %q for %q: %w: user and request id required", req.RewardID, req.User, ErrInvalid)
	}
	if strings.ContainsRune(req.User+req.RequestID, 0) { // NUL separates them in a hold and a gift's claim id
		return Redemption{}, fmt.Errorf("redeem %q for %q: %w: a NUL character in the user or request id", req.RewardID, req.User, ErrInvalid)
	}
	cat, err := l.Catalogue(ctx)
	if err != nil {
		return Redemption{}, fmt.Errorf("redeem %q for %q: %w", req.RewardID, req.User, err)
	}
	var r Reward
	found := false
	for _, c := range cat {
		if c.ID == req.RewardID {
			r, found = c, true
		}
	}
	if !found {
		return Redemption{}, fmt.Errorf("redeem %q for %q: %w", req.RewardID, req.User, ErrNotFound)
	}
	req.ClaimID = ""
	if r.Kind == KindGift {
		req.ClaimID = ClaimID(req.User, req.RequestID)
	}
	if r.Kind != KindCoupon {
		req.Code = ""
	}
	red, err := l.store.Redeem(ctx, req, r, l.policy(l.cfg.Now()))
	if err != nil {
		return Redemption{}, fmt.Errorf("redeem %q for %q: %w", req.RewardID, req.User, err)
	}
	return red, nil
}

// Fulfil marks a gift redemption fulfilled by the shop, once: a second call returns the redemption as the
// first left it. ErrNotFound for an unknown claim id.
func (l *Ledger) Fulfil(ctx context.Context, claimID string) (Redemption, error) {
	if claimID == "" {
		return Redemption{}, fmt.Errorf("fulfil a claim: %w: empty claim id", ErrInvalid)
	}
	red, err := l.store.Fulfil(ctx, claimID, l.policy(l.cfg.Now()))
	if err != nil {
		return Redemption{}, fmt.Errorf("fulfil claim %q: %w", claimID, err)
	}
	return red, nil
}

// Catalogue returns the current catalogue: the one stored by SetCatalogue, else Config.Catalogue.
func (l *Ledger) Catalogue(ctx context.Context) ([]Reward, error) {
	rs, ok, err := l.store.Catalogue(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the catalogue: %w", err)
	}
	if !ok {
		return append([]Reward(nil), l.cfg.Catalogue...), nil
	}
	return rs, nil
}

// SetCatalogue replaces the catalogue for every node sharing the store (ValidateCatalogue first). The units
// already redeemed of an id count against its new stock.
func (l *Ledger) SetCatalogue(ctx context.Context, rs []Reward) error {
	if err := ValidateCatalogue(rs); err != nil {
		return err
	}
	clean := make([]Reward, len(rs))
	for i, r := range rs {
		r.Remaining = nil
		clean[i] = r
	}
	if err := l.store.SetCatalogue(ctx, clean); err != nil {
		return fmt.Errorf("store the catalogue: %w", err)
	}
	return nil
}

// Rewards returns the configured (compiled-in) catalogue, ordered by cost; Available reads the current one.
func (l *Ledger) Rewards() []Reward {
	out := append([]Reward(nil), l.cfg.Catalogue...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cost < out[j].Cost })
	return out
}

// Available returns the current catalogue, cheapest first, with the units left of each limited reward.
func (l *Ledger) Available(ctx context.Context) ([]Reward, error) {
	out, err := l.Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cost < out[j].Cost })
	left, err := l.store.Remaining(ctx, out)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if n, ok := left[out[i].ID]; ok {
			out[i].Remaining = &n
		}
	}
	return out, nil
}

// Redemptions returns the user's redemptions of kind (KindCoupon, KindGift; "" for all), newest first, at most
// n (all when n <= 0).
func (l *Ledger) Redemptions(ctx context.Context, user, kind string, n int) ([]Redemption, error) {
	all, err := l.store.Redemptions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("redemptions of %q: %w", user, err)
	}
	out := all[:0]
	for _, r := range all {
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
	}
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// sortRedemptions orders rs newest first: by At, then by request id (descending).
func sortRedemptions(rs []Redemption) {
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].At.Equal(rs[j].At) {
			return rs[i].At.After(rs[j].At)
		}
		return rs[i].ID > rs[j].ID
	})
}
