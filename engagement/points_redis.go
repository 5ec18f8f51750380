package engagement

import (
	"context"
	"time"
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
	return updateJSON(ctx, s, s.scoreKey(stream, user, kind), kind+" score state of "+user+" in "+stream, nil,
		func(st *LimitState) (bool, error) { return fn(st), nil },
		func(LimitState) time.Duration { return scoreStateTTL(stream, kind, s.ttl, s.retention) })
}
