package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// CreateStream implements StreamStore.
func (s *RedisStore) CreateStream(ctx context.Context, st Stream) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode stream %s: %w", st.ID, err)
	}
	err = s.rdb.SetArgs(ctx, s.streamKey(st.ID), b, redis.SetArgs{Mode: "NX", TTL: s.retention}).Err()
	if errors.Is(err, redis.Nil) {
		return ErrDuplicate
	}
	if err != nil {
		return unavailable("create stream "+st.ID, err)
	}
	return nil
}

// Stream implements StreamStore.
func (s *RedisStore) Stream(ctx context.Context, id string) (Stream, error) {
	return s.getStream(ctx, s.rdb, id)
}

func (s *RedisStore) getStream(ctx context.Context, c redis.Cmdable, id string) (Stream, error) {
	return getJSON[Stream](ctx, c, s.streamKey(id), "stream "+id, ErrNotFound)
}

// UpdateStream implements StreamStore with WATCH/MULTI: fn runs again whenever another writer changed the
// stream between the read and the write.
func (s *RedisStore) UpdateStream(ctx context.Context, id string, fn func(*Stream) error) (Stream, error) {
	return updateJSON(ctx, s, s.streamKey(id), "stream "+id, ErrNotFound,
		func(st *Stream) (bool, error) { return true, fn(st) },
		func(before Stream) time.Duration {
			if before.Live() {
				return s.retention // a live stream's write, or the one that ends it
			}
			return time.Duration(redis.KeepTTL) // an ended stream's record keeps the Retention it got when it ended
		})
}

// renewStreamScript renews a live stream's record. KEYS: the record. ARGV: ttl ms.
var renewStreamScript = luaScript("stream_renew.lua")

// RenewStream implements StreamStore with one script: the status check and the PEXPIRE are one step.
func (s *RedisStore) RenewStream(ctx context.Context, id string) error {
	if err := renewStreamScript.Run(ctx, s.rdb, []string{s.streamKey(id)}, s.retention.Milliseconds()).Err(); err != nil {
		return unavailable("renew stream "+id, err)
	}
	return nil
}
