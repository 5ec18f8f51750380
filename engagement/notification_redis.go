package engagement

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

func (s *RedisStore) audienceKey(stream string) string { return s.streamSubKey(stream, "audience") }

func (s *RedisStore) lastStreamKey(user string) string {
	return s.prefix + "user:{" + user + "}:last-stream"
}

func (s *RedisStore) notifyKey(user, day string) string {
	return s.prefix + "user:{" + user + "}:notify:" + day
}

// AddParticipant implements NotificationStore: the audience's SADD and the user's last stream in one
// pipeline. Not a MULTI: the two keys are in different hash slots (the stream's and the user's), which a
// Redis Cluster refuses in one transaction; each write is idempotent, and the next join writes both again.
func (s *RedisStore) AddParticipant(ctx context.Context, stream, user string, _ time.Time) error {
	audience := s.audienceKey(stream)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, audience, user)
		p.PExpire(ctx, audience, s.ttl)
		p.Set(ctx, s.lastStreamKey(user), stream, s.ttl)
		return nil
	})
	if err != nil {
		return unavailable("add "+user+" to the audience of "+stream, err)
	}
	return nil
}

// Participants implements NotificationStore.
func (s *RedisStore) Participants(ctx context.Context, stream string, max int) ([]string, error) {
	if max <= 0 {
		return []string{}, nil
	}
	users, err := s.rdb.SRandMemberN(ctx, s.audienceKey(stream), int64(max)).Result()
	if err != nil {
		return nil, unavailable("read the audience of "+stream, err)
	}
	return users, nil
}

// LastStream implements NotificationStore.
func (s *RedisStore) LastStream(ctx context.Context, user string) (string, error) {
	st, err := s.rdb.Get(ctx, s.lastStreamKey(user)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", unavailable("read the last stream of "+user, err)
	}
	return st, nil
}

// decideNotificationScript is the daily cap. KEYS: the user's hash of day, of the day before. ARGV: the
// sender-scoped id (notifyField), limit, ttl in ms. Returns {decision, 1 if replayed else 0}.
var decideNotificationScript = luaScript("notification_decide.lua")

// notifyField is the sender-scoped id of a decision in a user's day hash (after "id:"): the sender's length
// first, so that no (sender, id) pair can spell another's.
func notifyField(sender, id string) string {
	return strconv.Itoa(len(sender)) + ":" + sender + ":" + id
}

// parseDay parses a notification day ("2006-01-02"); the fixed length keeps the hash keys unambiguous.
func parseDay(day string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil || len(day) != len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("day %q is not a date such as 2006-01-02: %w", day, ErrInvalid)
	}
	return t, nil
}

// DecideNotification implements NotificationStore with one script: the replay check, the cap's check and
// its increment are one step per user, on every node.
func (s *RedisStore) DecideNotification(ctx context.Context, sender, id, user, day string, limit int) (string, bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return "", false, err
	}
	keys := []string{s.notifyKey(user, day), s.notifyKey(user, d.AddDate(0, 0, -1).Format(time.DateOnly))}
	v, err := decideNotificationScript.Run(ctx, s.rdb, keys, notifyField(sender, id), limit, notificationTTL.Milliseconds()).Result()
	if err != nil {
		return "", false, unavailable("decide notification "+id+" for "+user, err)
	}
	r := replyStrings(v)
	if len(r) != 2 || (r[0] != NotificationSent && r[0] != NotificationCapped) {
		return "", false, fmt.Errorf("decide notification %s for %s: unexpected script reply %q", id, user, r)
	}
	return r[0], r[1] == "1", nil
}

// NotificationsSent implements NotificationStore.
func (s *RedisStore) NotificationsSent(ctx context.Context, user, day string) (int, error) {
	if _, err := parseDay(day); err != nil {
		return 0, err
	}
	n, err := s.rdb.HGet(ctx, s.notifyKey(user, day), "sent").Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("read notifications sent to "+user, err)
	}
	return n, nil
}
