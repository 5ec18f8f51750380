package rewards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/redis/go-redis/v9"
)

// Refund implements Store.
func (s *RedisStore) Refund(ctx context.Context, orderKey string, part RefundPart, at time.Time, p Policy) (RefundResult, error) {
	raw, err := s.rdb.Get(ctx, s.prefix+"award:"+orderKey).Result()
	if errors.Is(err, redis.Nil) {
		return RefundResult{}, ErrNotFound
	}
	if err != nil {
		return RefundResult{}, fmt.Errorf("redis read award: %w", err)
	}
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return RefundResult{}, fmt.Errorf("decode award record: %w", err)
	}
	if rec.Exp > 0 && rec.Exp <= p.Now.UnixMilli() { // past its keepUntil: gone, whether or not Redis got to it
		return RefundResult{}, ErrNotFound
	}
	if !rec.Pending {
		return RefundResult{}, ErrInvalid
	}
	keys := append(s.userKeys(rec.User), s.prefix+"board:"+rec.Stream)
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
	return RefundResult{OrderKey: orderKey, User: rec.User, Cancelled: out.Cancelled, Reversed: out.Reversed,
		Shortfall: out.Shortfall, Balance: out.Balance, Stream: out.Stream, Amount: out.Amount, Refunded: out.Refunded,
		Total: out.Total, Full: out.Full, Replayed: out.Replayed, At: time.UnixMilli(out.At).UTC()}, nil
}
