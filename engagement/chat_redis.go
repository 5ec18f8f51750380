package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

func (s *RedisStore) slotKey(stream, user string) string {
	return s.streamSubKey(stream, "slot:"+user)
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
var removeCommentScript = luaScript("chat_remove_comment.lua")

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
	return getJSON[Moderation](ctx, c, s.streamSubKey(stream, "mod"), "moderation of "+stream, nil)
}

// UpdateModeration implements ChatStore with WATCH/MULTI, as UpdateStream. The settings live Retention, not
// StreamTTL: a ban must hold as long as the stream can be taken part in (a long show, replay answers and
// feedback after it ended).
func (s *RedisStore) UpdateModeration(ctx context.Context, stream string, fn func(*Moderation) error) (Moderation, error) {
	return updateJSON(ctx, s, s.streamSubKey(stream, "mod"), "moderation of "+stream, nil,
		func(m *Moderation) (bool, error) { return true, fn(m) },
		func(Moderation) time.Duration { return s.retention })
}

// takeSlotScript is the slow-mode gate. KEYS: the slot key. ARGV: now (Unix µs), every (µs).
// Returns 0 when the slot is taken now, else the µs left. The key expires after every, when it no longer
// matters; the caller's clock decides, as in the memory store.
var takeSlotScript = luaScript("chat_take_slot.lua")

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
