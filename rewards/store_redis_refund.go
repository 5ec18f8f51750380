package rewards

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/internal/redisack"
)

// Refund implements Store: the order's user is read from the key's claim, its record from the user's shard;
// one script on the shard refunds; the order stream's leaderboard then gets the user's points (pushBoard).
func (s *RedisStore) Refund(ctx context.Context, orderKey string, part RefundPart, at time.Time, p Policy) (RefundResult, error) {
	user, err := s.owner(ctx, orderKey)
	if err != nil {
		return RefundResult{}, err
	}
	if user == "" {
		return RefundResult{}, ErrNotFound
	}
	rec, ok, err := s.record(ctx, user, orderKey, p)
	if err != nil {
		return RefundResult{}, err
	}
	if !ok { // none, or past its keepUntil: gone, whether or not Redis got to it
		return RefundResult{}, ErrNotFound
	}
	if !rec.Pending {
		return RefundResult{}, ErrInvalid
	}
	keys := append(s.userKeys(rec.User), s.ukey(rec.User, "bpts"))
	arg := mustJSON(map[string]any{"key": orderKey, "user": rec.User, "at": at.UnixMilli(), "part": part.ID, "amount": part.Amount,
		"max_parts": MaxRefundParts})
	reply, err := redisack.Run(ctx, s.rdb, s.wait, scriptRefund, s.tail(keys, rec.User), encodePolicy(p), arg, rec.User).Slice()
	if err != nil {
		return RefundResult{}, fmt.Errorf("redis refund script: %w", err)
	}
	status, payload, err := statusReply(reply)
	if err != nil {
		return RefundResult{}, err
	}
	switch status {
	case "not_found":
		return RefundResult{}, ErrNotFound
	case "duplicate":
		return RefundResult{}, ErrDuplicate
	case "conflict":
		return RefundResult{}, ErrConflict
	case "invalid":
		return RefundResult{}, ErrInvalid
	case "limit":
		return RefundResult{}, ErrLimitReached
	}
	var out struct {
		Cancelled int64  `json:"cancelled"`
		Reversed  int64  `json:"reversed"`
		Shortfall int64  `json:"shortfall"`
		Balance   int64  `json:"balance"`
		Stream    string `json:"stream"`
		Amount    int64  `json:"amount"`
		Refunded  int64  `json:"refunded"`
		Total     int64  `json:"total"`
		Full      bool   `json:"full"`
		Replayed  bool   `json:"replayed"`
		At        int64  `json:"at"`
	}
	if err := json.Unmarshal([]byte(payload), &out); err != nil {
		return RefundResult{}, fmt.Errorf("decode refund: %w", err)
	}
	if err := s.pushBoard(ctx, out.Stream, rec.User, reply, p); err != nil {
		return RefundResult{}, err
	}
	return RefundResult{OrderKey: orderKey, User: rec.User, Cancelled: out.Cancelled, Reversed: out.Reversed,
		Shortfall: out.Shortfall, Balance: out.Balance, Stream: out.Stream, Amount: out.Amount, Refunded: out.Refunded,
		Total: out.Total, Full: out.Full, Replayed: out.Replayed, At: time.UnixMilli(out.At).UTC()}, nil
}
