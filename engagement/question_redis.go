package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// questionKeys returns the keys of a stream's questions, in the order the question scripts expect them.
func (s *RedisStore) questionKeys(stream string) []string {
	return []string{
		s.streamSubKey(stream, "questions"),
		s.streamSubKey(stream, "questions:votes"),
		s.streamSubKey(stream, "questions:voters"),
		s.streamSubKey(stream, "questions:answered"),
		s.streamSubKey(stream, "questions:hidden"),
		s.streamSubKey(stream, "questions:pinned"),
	}
}

// addQuestionScript stores a question. KEYS: questionKeys. ARGV: id, JSON, max, ttl in ms.
var addQuestionScript = luaScript("question_lib.lua", "question_add.lua")

// upvoteQuestionScript adds a vote. KEYS: questionKeys. ARGV: id, user, ttl in ms.
var upvoteQuestionScript = luaScript("question_lib.lua", "question_upvote.lua")

// setQuestionFlagScript sets or clears a flag. KEYS: questionKeys. ARGV: id, flag, on (1 or 0), ttl in ms.
var setQuestionFlagScript = luaScript("question_lib.lua", "question_flag.lua")

// scriptRefusal turns a question script's refusal into the store's sentinel.
func scriptRefusal(status, id string) error {
	switch status {
	case "duplicate":
		return ErrDuplicate
	case "closed":
		return ErrFull
	case "not_found":
		return ErrNotFound
	case "forbidden":
		return ErrOwnItem
	case "invalid":
		return ErrHidden
	}
	return fmt.Errorf("question %s: unexpected script reply %q", id, status)
}

// questionFromView decodes a question script's view reply (see lua/question_lib.lua); it also returns the changed flag.
func questionFromView(r []string) (Question, bool, error) {
	if len(r) != 7 {
		return Question{}, false, fmt.Errorf("question view has %d fields, want 7", len(r))
	}
	var q Question
	if err := json.Unmarshal([]byte(r[1]), &q); err != nil {
		return Question{}, false, fmt.Errorf("decode question: %w", err)
	}
	votes, err := strconv.ParseInt(r[2], 10, 64)
	if err != nil {
		return Question{}, false, fmt.Errorf("decode votes of question %s: %w", q.ID, err)
	}
	q.Votes, q.Answered, q.Hidden, q.Pinned = votes, r[3] == "1", r[4] == "1", r[5] == "1"
	return q, r[6] == "1", nil
}

// AddQuestion implements QuestionStore with one script.
func (s *RedisStore) AddQuestion(ctx context.Context, stream string, q Question, max int) error {
	if !validItemID(q.ID) {
		return fmt.Errorf("question id %q cannot be stored: %w", q.ID, ErrInvalid)
	}
	q.Votes, q.Pinned, q.Answered, q.Hidden = 0, false, false, false
	b, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode question %s: %w", q.ID, err)
	}
	v, err := addQuestionScript.Run(ctx, s.rdb, s.questionKeys(stream), q.ID, b, max, s.ttl.Milliseconds()).Result()
	if err != nil {
		return unavailable("add question to "+stream, err)
	}
	if r := replyStrings(v); r[0] != "ok" {
		return scriptRefusal(r[0], q.ID)
	}
	return nil
}

// Questions implements QuestionStore: every key of the stream's questions read in one MULTI.
func (s *RedisStore) Questions(ctx context.Context, stream string) ([]Question, error) {
	keys := s.questionKeys(stream)
	var (
		all, votes       *redis.MapStringStringCmd
		answered, hidden *redis.StringSliceCmd
		pinned           *redis.StringCmd
	)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, keys[0])
		votes = p.HGetAll(ctx, keys[1])
		answered = p.SMembers(ctx, keys[3])
		hidden = p.SMembers(ctx, keys[4])
		pinned = p.Get(ctx, keys[5])
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // a missing pinned key is no failure
		return nil, unavailable("read questions of "+stream, err)
	}
	pinnedID := pinned.Val()
	isAnswered, isHidden := setOf(answered.Val()), setOf(hidden.Val())
	out := make([]Question, 0, len(all.Val()))
	for id, raw := range all.Val() {
		var q Question
		if err := json.Unmarshal([]byte(raw), &q); err != nil {
			return nil, fmt.Errorf("decode question %s of %s: %w", id, stream, err)
		}
		if n, ok := votes.Val()[id]; ok {
			if q.Votes, err = strconv.ParseInt(n, 10, 64); err != nil {
				return nil, fmt.Errorf("decode votes of question %s of %s: %w", id, stream, err)
			}
		}
		q.Answered, q.Hidden, q.Pinned = isAnswered[id], isHidden[id], id == pinnedID
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Question) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// UpvoteQuestion implements QuestionStore with one script: the voter's SADD and the count's HINCRBY are one
// step, so concurrent votes on any node never lose or double a count.
func (s *RedisStore) UpvoteQuestion(ctx context.Context, stream, id, user string) (Question, error) {
	if !validItemID(id) {
		return Question{}, ErrNotFound
	}
	v, err := upvoteQuestionScript.Run(ctx, s.rdb, s.questionKeys(stream), id, user, s.ttl.Milliseconds()).Result()
	if err != nil {
		return Question{}, unavailable("upvote question "+id+" of "+stream, err)
	}
	r := replyStrings(v)
	if r[0] != "ok" {
		return Question{}, scriptRefusal(r[0], id)
	}
	q, _, err := questionFromView(r)
	return q, err
}

// SetQuestionFlag implements QuestionStore with one script.
func (s *RedisStore) SetQuestionFlag(ctx context.Context, stream, id, flag string, on bool) (Question, bool, error) {
	if !validItemID(id) {
		return Question{}, false, ErrNotFound
	}
	switch flag {
	case FlagPinned, FlagAnswered, FlagHidden:
	default:
		return Question{}, false, fmt.Errorf("question flag %q: %w", flag, ErrInvalid)
	}
	onArg := 0
	if on {
		onArg = 1
	}
	v, err := setQuestionFlagScript.Run(ctx, s.rdb, s.questionKeys(stream), id, flag, onArg, s.ttl.Milliseconds()).Result()
	if err != nil {
		return Question{}, false, unavailable("flag question "+id+" of "+stream, err)
	}
	r := replyStrings(v)
	if r[0] != "ok" {
		return Question{}, false, scriptRefusal(r[0], id)
	}
	return questionFromView(r)
}
