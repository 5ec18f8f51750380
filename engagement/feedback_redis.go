package engagement

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Feedback.

// addFeedbackScript records one feedback per user and kind. KEYS: counts hash, given set. ARGV: given
// member, counts field, ttl ms. Returns the outcome and the counts as field/value pairs.
var addFeedbackScript = luaScript("feedback_add.lua")

func decodeFeedback(stream string, m map[string]string) (FeedbackCounts, error) {
	var c FeedbackCounts
	for k, v := range m {
		kind, score, _ := strings.Cut(k, ":")
		i, err1 := strconv.Atoi(score)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return FeedbackCounts{}, fmt.Errorf("decode feedback of %s: %w", stream, err)
		}
		switch {
		case kind == FeedbackRating && i >= 1 && i <= len(c.Ratings):
			c.Ratings[i-1] = n
		case kind == FeedbackNPS && i >= 0 && i < len(c.NPS):
			c.NPS[i] = n
		}
	}
	return c, nil
}

// AddFeedback implements FeedbackStore with one script.
func (s *RedisStore) AddFeedback(ctx context.Context, stream, user, kind string, score int) (FeedbackCounts, error) {
	var top int
	switch kind {
	case FeedbackRating:
		top = len(FeedbackCounts{}.Ratings)
	case FeedbackNPS:
		top = len(FeedbackCounts{}.NPS) - 1
	default:
		return FeedbackCounts{}, fmt.Errorf("feedback kind %q: %w", kind, ErrInvalid)
	}
	if score < 0 || score > top || (kind == FeedbackRating && score < 1) {
		return FeedbackCounts{}, fmt.Errorf("feedback score %d: %w", score, ErrInvalid)
	}
	key := s.streamSubKey(stream, "feedback")
	res, data, err := s.runScript(ctx, "add feedback of "+user+" to "+stream, addFeedbackScript,
		[]string{key, key + ":given"}, kind+":"+user, kind+":"+strconv.Itoa(score), ttlMS(s.ttl))
	if err != nil {
		return FeedbackCounts{}, err
	}
	if res == "duplicate" {
		return FeedbackCounts{}, ErrDuplicate
	}
	return decodeFeedback(stream, pairs(data))
}

// Feedback implements FeedbackStore.
func (s *RedisStore) Feedback(ctx context.Context, stream string) (FeedbackCounts, error) {
	m, err := s.rdb.HGetAll(ctx, s.streamSubKey(stream, "feedback")).Result()
	if err != nil {
		return FeedbackCounts{}, unavailable("get feedback of "+stream, err)
	}
	return decodeFeedback(stream, m)
}
