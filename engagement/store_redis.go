package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis layout of the core Store, every key under RedisConfig.Prefix (default "kudos:"). The stream id sits
// in literal braces, a Redis Cluster hash tag, so that all keys of one stream share a slot and a script may touch
// several of them. Stream ids are ValidStreamID (no braces), so keys of two streams never collide.
//
//	stream:{id}              string  the Stream as JSON; the record, so it never expires
//	stream:{id}:comments     list    recent comments as JSON, oldest first, trimmed to the newest keep
//	stream:{id}:removed      set     ids of removed comments
//	stream:{id}:mod          string  the Moderation settings as JSON
//	stream:{id}:slot:<user>  string  slow mode: when user last took a slot (Unix µs), expires after the gap
//	stream:{id}:likes        string  the like counter (INCRBY)
//	stream:{id}:score:<kind>:<user>  string  ScoreStore's LimitState as JSON (store_redis_score.go)
//
// The hot keys (all but the record) expire RedisConfig.StreamTTL after the stream's last write to them.
// Read-modify-write of JSON values (UpdateStream, UpdateModeration) uses WATCH/MULTI with retries; the
// other multi-step operations are a MULTI pipeline or a Lua script, so each call is atomic on the server.

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix starts every key. "" → "kudos:".
	Prefix string
	// StreamTTL is how long the per-stream hot keys live after their last write. 0 → 48h.
	StreamTTL time.Duration
}

// RedisStore is the Store shared by every node through one Redis server (or one cluster slot per stream).
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var (
	_ StreamStore = (*RedisStore)(nil)
	_ ChatStore   = (*RedisStore)(nil)
	_ LikeStore   = (*RedisStore)(nil)
	_ Store       = (*RedisStore)(nil)
)

// NewRedisStore returns a RedisStore over rdb. The caller owns rdb and closes it.
func NewRedisStore(rdb redis.UniversalClient, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "kudos:"
	}
	if cfg.StreamTTL <= 0 {
		cfg.StreamTTL = 48 * time.Hour
	}
	return &RedisStore{rdb: rdb, prefix: cfg.Prefix, ttl: cfg.StreamTTL}
}

// maxTxAttempts bounds the optimistic retries of one update; past it the store reports itself unavailable
// rather than spin forever under contention.
const maxTxAttempts = 64

// errStoreUnavailable is what a client is told when Redis fails; the cause stays in the logged error.
var errStoreUnavailable = Errorf(CodeUnavailable, "state store unavailable")

// unavailable wraps a backend failure of op so that errors.Is(err, ErrUnavailable) holds and the cause
// (a network error, a context error) can still be matched.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, errStoreUnavailable, err)
}

func (s *RedisStore) streamKey(id string) string { return s.prefix + "stream:{" + id + "}" }

func (s *RedisStore) streamSubKey(id, kind string) string { return s.streamKey(id) + ":" + kind }

func (s *RedisStore) slotKey(stream, user string) string {
	return s.streamSubKey(stream, "slot:"+user)
}

// CreateStream implements StreamStore.
func (s *RedisStore) CreateStream(ctx context.Context, st Stream) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode stream %s: %w", st.ID, err)
	}
	err = s.rdb.SetArgs(ctx, s.streamKey(st.ID), b, redis.SetArgs{Mode: "NX"}).Err()
	if errors.Is(err, redis.Nil) {
		return Errorf(CodeDuplicate, "stream %q exists", st.ID)
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
	b, err := c.Get(ctx, s.streamKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Stream{}, Errorf(CodeNotFound, "no stream %q", id)
	}
	if err != nil {
		return Stream{}, unavailable("get stream "+id, err)
	}
	var st Stream
	if err := json.Unmarshal(b, &st); err != nil {
		return Stream{}, fmt.Errorf("decode stream %s: %w", id, err)
	}
	return st, nil
}

// UpdateStream implements StreamStore with WATCH/MULTI: fn runs again whenever another writer changed the
// stream between the read and the write.
func (s *RedisStore) UpdateStream(ctx context.Context, id string, fn func(*Stream) error) (Stream, error) {
	key := s.streamKey(id)
	var out Stream
	err := s.optimistic(ctx, "update stream "+id, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		st, err := s.getStream(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(&st); err != nil {
			return nil, userError{err}
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode stream %s: %w", id, err)
		}
		out = st
		return func(p redis.Pipeliner) error { return p.Set(ctx, key, b, redis.KeepTTL).Err() }, nil
	})
	if err != nil {
		return Stream{}, err
	}
	return out, nil
}

// userError marks an error returned by the caller's fn, which must reach the caller unchanged.
type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }

// optimistic runs read under WATCH key and then the writes it returns in MULTI/EXEC, retrying with a short
// jittered pause when another client changed key in between. Errors of read pass through unchanged (they are
// already the store's errors, or the caller's); Redis failures are wrapped as unavailable.
func (s *RedisStore) optimistic(ctx context.Context, op, key string, read func(*redis.Tx) (func(redis.Pipeliner) error, error)) error {
	for attempt := 0; attempt < maxTxAttempts; attempt++ {
		var readErr error
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			write, err := read(tx)
			if err != nil {
				readErr = err
				return err
			}
			_, err = tx.TxPipelined(ctx, write)
			return err
		}, key)
		var ue userError
		switch {
		case readErr != nil && errors.As(readErr, &ue):
			return ue.err
		case readErr != nil:
			return readErr
		case err == nil:
			return nil
		case !errors.Is(err, redis.TxFailedErr):
			return unavailable(op, err)
		}
		pause := time.Duration(1+rand.IntN(1<<min(attempt, 5))) * time.Millisecond
		select {
		case <-ctx.Done():
			return unavailable(op, ctx.Err())
		case <-time.After(pause):
		}
	}
	return unavailable(op, fmt.Errorf("gave up after %d conflicting attempts", maxTxAttempts))
}

// AddComment implements ChatStore: RPUSH, LTRIM and EXPIRE in one MULTI.
func (s *RedisStore) AddComment(ctx context.Context, stream string, c Comment, keep int) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode comment %s: %w", c.ID, err)
	}
	key := s.streamSubKey(stream, "comments")
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, b)
		if keep > 0 {
			p.LTrim(ctx, key, int64(-keep), -1)
		} else {
			p.Del(ctx, key)
		}
		p.Expire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return unavailable("add comment to "+stream, err)
	}
	return nil
}

// RecentComments implements ChatStore.
func (s *RedisStore) RecentComments(ctx context.Context, stream string, n int) ([]Comment, error) {
	if n <= 0 {
		return nil, nil
	}
	raw, err := s.rdb.LRange(ctx, s.streamSubKey(stream, "comments"), int64(-n), -1).Result()
	if err != nil {
		return nil, unavailable("read comments of "+stream, err)
	}
	cs := make([]Comment, 0, len(raw))
	for _, r := range raw {
		var c Comment
		if err := json.Unmarshal([]byte(r), &c); err != nil {
			return nil, fmt.Errorf("decode comment of %s: %w", stream, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// removeCommentScript marks ARGV[1] removed and deletes the first recent comment with that id.
// KEYS: comments list, removed set. ARGV: id, ttl in ms. Returns 1 if a comment was deleted.
var removeCommentScript = redis.NewScript(`
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, c = pcall(cjson.decode, raw)
  if ok and type(c) == 'table' and c.id == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, raw)
    return 1
  end
end
return 0
`)

// RemoveComment implements ChatStore with one script, so a concurrent AddComment cannot interleave.
func (s *RedisStore) RemoveComment(ctx context.Context, stream, id string) (bool, error) {
	keys := []string{s.streamSubKey(stream, "comments"), s.streamSubKey(stream, "removed")}
	n, err := removeCommentScript.Run(ctx, s.rdb, keys, id, s.ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable("remove comment "+id+" of "+stream, err)
	}
	return n == 1, nil
}

// Moderation implements ChatStore.
func (s *RedisStore) Moderation(ctx context.Context, stream string) (Moderation, error) {
	return s.getModeration(ctx, s.rdb, stream)
}

func (s *RedisStore) getModeration(ctx context.Context, c redis.Cmdable, stream string) (Moderation, error) {
	b, err := c.Get(ctx, s.streamSubKey(stream, "mod")).Bytes()
	if errors.Is(err, redis.Nil) {
		return Moderation{}, nil
	}
	if err != nil {
		return Moderation{}, unavailable("get moderation of "+stream, err)
	}
	var m Moderation
	if err := json.Unmarshal(b, &m); err != nil {
		return Moderation{}, fmt.Errorf("decode moderation of %s: %w", stream, err)
	}
	return m, nil
}

// UpdateModeration implements ChatStore with WATCH/MULTI, as UpdateStream.
func (s *RedisStore) UpdateModeration(ctx context.Context, stream string, fn func(*Moderation) error) (Moderation, error) {
	key := s.streamSubKey(stream, "mod")
	var out Moderation
	err := s.optimistic(ctx, "update moderation of "+stream, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		m, err := s.getModeration(ctx, tx, stream)
		if err != nil {
			return nil, err
		}
		if err := fn(&m); err != nil {
			return nil, userError{err}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode moderation of %s: %w", stream, err)
		}
		out = m
		return func(p redis.Pipeliner) error { return p.Set(ctx, key, b, s.ttl).Err() }, nil
	})
	if err != nil {
		return Moderation{}, err
	}
	return cloneModeration(out), nil
}

// takeSlotScript is the slow-mode gate. KEYS: the slot key. ARGV: now (Unix µs), every (µs).
// Returns 0 when the slot is taken now, else the µs left. The key expires after every, when it no longer
// matters; the caller's clock decides, as in the memory store.
var takeSlotScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local every = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if last and now - last < every then
  return every - (now - last)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, math.ceil(every / 1000)))
return 0
`)

// TakeSlot implements ChatStore.
func (s *RedisStore) TakeSlot(ctx context.Context, stream, user string, every time.Duration, now time.Time) (bool, time.Duration, error) {
	if every <= 0 {
		return true, 0, nil
	}
	left, err := takeSlotScript.Run(ctx, s.rdb, []string{s.slotKey(stream, user)}, now.UnixMicro(), every.Microseconds()).Int64()
	if err != nil {
		return false, 0, unavailable("take slow-mode slot in "+stream, err)
	}
	if left > 0 {
		return false, time.Duration(left) * time.Microsecond, nil
	}
	return true, 0, nil
}

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
