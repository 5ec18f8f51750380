package loyalty

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// Balance is one user's loyalty state as the events tell it: spendable points, pending purchase points and
// tier (docs/events.md, "Balances from events").
type Balance struct {
	Balance int64  `json:"balance"`
	Pending int64  `json:"pending"`
	Tier    string `json:"tier"`
}

// BalanceFold rebuilds every user's Balance from the balance events: points.awarded, points.settled,
// purchase.refunded, points.redeemed, points.expired and tier.changed. It is pure, drops an event id seen
// before (delivery is at least once), and does not depend on the order of the events: amounts are deltas, and
// the tier is the to of the tier.changed with the highest seq (an event without seq, from before it was
// published, counts below any with one, by time among themselves). A user with no tier.changed has the first
// tier given to NewBalanceFold.
type BalanceFold struct {
	firstTier string
	seen      map[string]bool
	users     map[string]*foldUser
	erased    map[string]bool // SHA-256 digests of erased ids: their balance events are dropped
}

type foldUser struct {
	Balance
	tierSeq int64     // seq of the tier.changed that set Tier; 0 for one without seq
	tierAt  time.Time // its time, for events without seq
	tierSet bool
}

// NewBalanceFold returns an empty fold; firstTier is the tier of a user no tier.changed names ("" →
// TierBronze).
func NewBalanceFold(firstTier string) *BalanceFold {
	if firstTier == "" {
		firstTier = TierBronze
	}
	return &BalanceFold{firstTier: firstTier, seen: map[string]bool{}, users: map[string]*foldUser{}}
}

// Add folds one event in. Events of other types are ignored; a balance event without a user or with data of
// the wrong shape is ErrInvalidEvent (and changes nothing).
func (f *BalanceFold) Add(ev engagement.Event) error {
	var data struct {
		Points    int64  `json:"points"`
		Pending   bool   `json:"pending"`
		Cancelled int64  `json:"cancelled"`
		Reversed  int64  `json:"reversed"`
		Cost      int64  `json:"cost"`
		To        string `json:"to"`
		Seq       int64  `json:"seq"`
	}
	switch ev.Type {
	case engagement.EventPointsAwarded, engagement.EventPointsSettled, engagement.EventPurchaseRefunded,
		engagement.EventPointsRedeemed, engagement.EventPointsExpired, engagement.EventTierChanged:
	case engagement.EventUserErased:
		// The user's row goes, and their balance events delivered later are dropped (the server
		// forfeits the balance before it publishes user.erased): Balances no longer names them.
		if ev.UserID != "" {
			if f.erased == nil {
				f.erased = map[string]bool{}
			}
			f.erased[erasedDigest(ev.UserID)] = true
			delete(f.users, ev.UserID)
		}
		return nil
	default:
		return nil
	}
	if ev.ID == "" || ev.UserID == "" {
		return fmt.Errorf("%w: %s without id or user", ErrInvalidEvent, ev.Type)
	}
	if f.seen[ev.ID] || f.erased[erasedDigest(ev.UserID)] {
		return nil
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return fmt.Errorf("%w: %s data: %v", ErrInvalidEvent, ev.Type, err)
	}
	if ev.Type == engagement.EventTierChanged && data.To == "" {
		return fmt.Errorf("%w: %s without to", ErrInvalidEvent, ev.Type)
	}
	f.seen[ev.ID] = true
	u := f.users[ev.UserID]
	if u == nil {
		u = &foldUser{Balance: Balance{Tier: f.firstTier}}
		f.users[ev.UserID] = u
	}
	switch ev.Type {
	case engagement.EventPointsAwarded:
		if data.Pending {
			u.Pending += data.Points
		} else {
			u.Balance.Balance += data.Points
		}
	case engagement.EventPointsSettled:
		u.Pending -= data.Points
		u.Balance.Balance += data.Points
	case engagement.EventPurchaseRefunded:
		u.Pending -= data.Cancelled
		u.Balance.Balance -= data.Reversed
	case engagement.EventPointsRedeemed:
		u.Balance.Balance -= data.Cost
	case engagement.EventPointsExpired:
		u.Balance.Balance -= data.Points
	case engagement.EventTierChanged:
		later := data.Seq > u.tierSeq || (data.Seq == 0 && u.tierSeq == 0 && !ev.Time.Before(u.tierAt))
		if !u.tierSet || later {
			u.Tier, u.tierSeq, u.tierAt, u.tierSet = data.To, data.Seq, ev.Time, true
		}
	}
	return nil
}

// Balances returns every user's state so far, by user id.
func (f *BalanceFold) Balances() map[string]Balance {
	out := make(map[string]Balance, len(f.users))
	for id, u := range maps.All(f.users) {
		out[id] = u.Balance
	}
	return out
}
