package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Score state keys (see the key layout in redis.go):
//
//	stream:{id}:score:{kind}:{user}  string  the user's LimitState for kind as JSON; expires scoreStateTTL
//	                                         after it was stored: StreamTTL, Retention for a replay mark,
//	                                         userStateTTL (40 days) for the user-wide state of stream ""

func (s *RedisStore) scoreKey(stream, user, kind string) string {
	return s.streamSubKey(stream, "score:"+kind+":"+user)
}

// UpdateScoreState implements ScoreStore with WATCH/MULTI, like UpdateModeration.
func (s *RedisStore) UpdateScoreState(ctx context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error) {
	key := s.scoreKey(stream, user, kind)
	var out LimitState
	err := s.optimistic(ctx, "update "+kind+" score state of "+user+" in "+stream, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		var st LimitState
		b, err := tx.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, unavailable("read score state", err)
		default:
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("decode score state %s: %w", key, err)
			}
		}
		if !fn(&st) {
			out = st
			return func(redis.Pipeliner) error { return nil }, nil
		}
		nb, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode score state: %w", err)
		}
		out = st
		ttl := scoreStateTTL(stream, kind, s.ttl, s.retention)
		return func(p redis.Pipeliner) error { return p.Set(ctx, key, nb, ttl).Err() }, nil
	})
	return out, err
}
