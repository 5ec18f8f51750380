package engagement

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// AddLikes implements LikeStore: INCRBY and EXPIRE in one MULTI.
func (s *RedisStore) AddLikes(ctx context.Context, stream string, n int64) (int64, error) {
	key := s.streamSubKey(stream, "likes")
	var incr *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.IncrBy(ctx, key, n)
		p.Expire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return 0, unavailable("add likes to "+stream, err)
	}
	return incr.Val(), nil
}

// Likes implements LikeStore.
func (s *RedisStore) Likes(ctx context.Context, stream string) (int64, error) {
	n, err := s.rdb.Get(ctx, s.streamSubKey(stream, "likes")).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("get likes of "+stream, err)
	}
	return n, nil
}
