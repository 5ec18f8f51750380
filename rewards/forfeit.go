package rewards

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ForfeitRewardID is the reserved reward id of a forfeit: Forfeit records the balance it takes as a
// redemption of it (an entry of kind redeem, source ForfeitRewardID), so that the ledger still folds and
// accounting sees where the points went. No catalogue reward may take the id.
const ForfeitRewardID = "forfeit"

// forfeitAttempts bounds the retries of a forfeit whose balance changed between the read and the debit.
const forfeitAttempts = 5

// Forfeit takes user's whole spendable balance (pending purchase points stay until they settle or are
// refunded), once per requestID: the erasure of a user. A user without a balance gets a zero Redemption and
// nothing is recorded; a replayed requestID returns the first forfeit with Replayed set.
func (l *Ledger) Forfeit(ctx context.Context, user, requestID string) (Redemption, error) {
	if user == "" || requestID == "" || strings.ContainsRune(user+requestID, 0) {
		return Redemption{}, fmt.Errorf("forfeit for %q: %w: user and request id required, without NUL", user, ErrInvalid)
	}
	for range forfeitAttempts {
		p := l.policy(l.cfg.Now())
		snap, err := l.store.Snapshot(ctx, user, p)
		if err != nil {
			return Redemption{}, fmt.Errorf("forfeit for %q: %w", user, err)
		}
		cost := snap.Balance
		if cost <= 0 {
			cost = 1 // nothing to take: ask with the least, so that a replay is still told apart
		}
		red, err := l.store.Redeem(ctx, RedeemRequest{User: user, RewardID: ForfeitRewardID, RequestID: requestID},
			Reward{ID: ForfeitRewardID, Title: "balance forfeited", Cost: cost}, p)
		switch {
		case err == nil:
			return red, nil
		case errors.Is(err, ErrInsufficientPoints) && snap.Balance <= 0:
			return Redemption{User: user, RewardID: ForfeitRewardID, ID: requestID, At: p.Now}, nil
		case errors.Is(err, ErrInsufficientPoints):
			continue // the balance fell meanwhile: read it again
		default:
			return Redemption{}, fmt.Errorf("forfeit for %q: %w", user, err)
		}
	}
	return Redemption{}, fmt.Errorf("forfeit for %q: %w: the balance kept changing", user, ErrConflict)
}
