package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Quizzes.

func (s *RedisStore) quizKey(stream, id string) string { return s.itemKey(stream, "quiz", id) }

// quizFields returns the quiz hash's field/values: the JSON without counts and the fields AnswerQuiz checks.
func quizFields(q Quiz) ([]any, error) {
	q = cloneQuiz(q)
	for i := range q.Questions {
		q.Questions[i].Counts = nil
	}
	b, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("encode quiz %s: %w", q.ID, err)
	}
	choices, revealed := 0, 0
	if q.Current >= 0 && q.Current < len(q.Questions) {
		choices = len(q.Questions[q.Current].Choices)
	}
	if q.Revealed {
		revealed = 1
	}
	return []any{"json", b, "current", q.Current, "status", q.Status, "revealed", revealed,
		"opens", q.OpensAt.UnixMicro(), "deadline", q.Deadline.UnixMicro(),
		"questions", len(q.Questions), "choices", choices}, nil
}

// decodeQuiz builds a Quiz from its JSON and counts hash.
func decodeQuiz(id, raw string, counts map[string]string) (Quiz, error) {
	var q Quiz
	if err := json.Unmarshal([]byte(raw), &q); err != nil {
		return Quiz{}, fmt.Errorf("decode quiz %s: %w", id, err)
	}
	for i := range q.Questions {
		q.Questions[i].Counts = make([]int64, len(q.Questions[i].Choices))
	}
	for k, v := range counts {
		qs, cs, _ := strings.Cut(k, ":")
		qi, err1 := strconv.Atoi(qs)
		ci, err2 := strconv.Atoi(cs)
		n, err3 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return Quiz{}, fmt.Errorf("decode quiz %s counts: %w", id, err)
		}
		if qi >= 0 && qi < len(q.Questions) && ci >= 0 && ci < len(q.Questions[qi].Counts) {
			q.Questions[qi].Counts[ci] = n
		}
	}
	return q, nil
}

// getQuiz reads a quiz and its counts through c (the client, or a transaction's client under WATCH, where a
// MULTI would end the watch: hence a plain pipeline; only AnswerQuiz writes the counts, UpdateQuiz never).
func (s *RedisStore) getQuiz(ctx context.Context, c redis.Cmdable, stream, id string) (Quiz, error) {
	key := s.quizKey(stream, id)
	var raw *redis.StringCmd
	var counts *redis.MapStringStringCmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		raw = p.HGet(ctx, key, "json")
		counts = p.HGetAll(ctx, key+":counts")
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return Quiz{}, ErrNotFound
	}
	if err != nil {
		return Quiz{}, unavailable("get quiz "+id+" of "+stream, err)
	}
	return decodeQuiz(id, raw.Val(), counts.Val())
}

// CreateQuiz implements QuizStore with one script.
func (s *RedisStore) CreateQuiz(ctx context.Context, stream string, q Quiz) error {
	if !validItemID(q.ID) {
		return fmt.Errorf("quiz id %q cannot be stored: %w", q.ID, ErrInvalid)
	}
	fields, err := quizFields(q)
	if err != nil {
		return err
	}
	return s.createItem(ctx, "quiz", stream, q.ID, s.quizKey(stream, q.ID), s.streamSubKey(stream, "quiz"), "set", fields)
}

// Quiz implements QuizStore.
func (s *RedisStore) Quiz(ctx context.Context, stream, id string) (Quiz, error) {
	if !validItemID(id) {
		return Quiz{}, ErrNotFound
	}
	return s.getQuiz(ctx, s.rdb, stream, id)
}

// ActiveQuiz implements QuizStore.
func (s *RedisStore) ActiveQuiz(ctx context.Context, stream string) (Quiz, error) {
	return currentItem(ctx, s, "get active quiz of "+stream, s.streamSubKey(stream, "quiz"),
		func(id string) (Quiz, error) { return s.Quiz(ctx, stream, id) })
}

// UpdateQuiz implements QuizStore with WATCH/MULTI, as UpdateStream. The counts are AnswerQuiz's: they live
// in their own hash, so an update never writes them.
func (s *RedisStore) UpdateQuiz(ctx context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error) {
	if !validItemID(id) {
		return Quiz{}, ErrNotFound
	}
	keepCounts := func(q *Quiz) error {
		before := cloneQuiz(*q)
		if err := fn(q); err != nil {
			return err
		}
		for i := range q.Questions {
			if i < len(before.Questions) {
				q.Questions[i].Counts = before.Questions[i].Counts
			} else {
				q.Questions[i].Counts = make([]int64, len(q.Questions[i].Choices))
			}
		}
		return nil
	}
	q, err := updateItem(ctx, s, "update quiz "+id+" of "+stream, s.quizKey(stream, id),
		func(c redis.Cmdable) (Quiz, error) { return s.getQuiz(ctx, c, stream, id) }, keepCounts, quizFields)
	return cloneQuiz(q), err
}

// answerQuizScript checks and records an answer. KEYS: quiz hash, counts, answers of the question, users who
// answered it. ARGV: question, choice, user, answer JSON, now µs, ttl ms, running status.
var answerQuizScript = luaScript("quiz_answer.lua")

// AnswerQuiz implements QuizStore with one script.
func (s *RedisStore) AnswerQuiz(ctx context.Context, stream, quizID string, a QuizResponse, now time.Time) error {
	if !validItemID(quizID) {
		return ErrNotFound
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode answer of %s to quiz %s: %w", a.User, quizID, err)
	}
	key := s.quizKey(stream, quizID)
	n := strconv.Itoa(a.Question)
	res, _, err := s.runScript(ctx, "answer quiz "+quizID+" of "+stream, answerQuizScript,
		[]string{key, key + ":counts", key + ":answers:" + n, key + ":answered:" + n},
		a.Question, a.Choice, a.User, b, now.UnixMicro(), ttlMS(s.ttl), QuizRunning)
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "not_found":
		return ErrNotFound
	case "closed":
		return ErrClosed
	case "not_yet":
		return ErrNotOpenYet
	case "time_up":
		return ErrTimeUp
	case "invalid":
		return ErrInvalid
	case "duplicate":
		return ErrDuplicate
	}
	return fmt.Errorf("answer quiz %s: unexpected script outcome %q", quizID, res)
}

// quizExists answers ErrNotFound for an unknown quiz.
func (s *RedisStore) quizExists(ctx context.Context, stream, id string) error {
	if !validItemID(id) {
		return ErrNotFound
	}
	n, err := s.rdb.Exists(ctx, s.quizKey(stream, id)).Result()
	if err != nil {
		return unavailable("find quiz "+id+" of "+stream, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// QuizAnswers implements QuizStore.
func (s *RedisStore) QuizAnswers(ctx context.Context, stream, quizID string, question int) ([]QuizResponse, error) {
	if err := s.quizExists(ctx, stream, quizID); err != nil {
		return nil, err
	}
	raw, err := s.rdb.LRange(ctx, s.quizKey(stream, quizID)+":answers:"+strconv.Itoa(question), 0, -1).Result()
	if err != nil {
		return nil, unavailable("read answers of quiz "+quizID+" of "+stream, err)
	}
	var out []QuizResponse
	for _, r := range raw {
		var a QuizResponse
		if err := json.Unmarshal([]byte(r), &a); err != nil {
			return nil, fmt.Errorf("decode answer of quiz %s: %w", quizID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// QuizPlayers implements QuizStore.
func (s *RedisStore) QuizPlayers(ctx context.Context, stream, quizID string) ([]QuizPlayer, error) {
	if err := s.quizExists(ctx, stream, quizID); err != nil {
		return nil, err
	}
	raw, err := s.rdb.HVals(ctx, s.quizKey(stream, quizID)+":players").Result()
	if err != nil {
		return nil, unavailable("read players of quiz "+quizID+" of "+stream, err)
	}
	out := make([]QuizPlayer, 0, len(raw))
	for _, r := range raw {
		var p QuizPlayer
		if err := json.Unmarshal([]byte(r), &p); err != nil {
			return nil, fmt.Errorf("decode player of quiz %s: %w", quizID, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// SaveQuizPlayers implements QuizStore: HSET and PEXPIRE in one MULTI.
func (s *RedisStore) SaveQuizPlayers(ctx context.Context, stream, quizID string, players []QuizPlayer) error {
	if err := s.quizExists(ctx, stream, quizID); err != nil {
		return err
	}
	if len(players) == 0 {
		return nil
	}
	fields := make([]any, 0, 2*len(players))
	for _, p := range players {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode player %s of quiz %s: %w", p.User, quizID, err)
		}
		fields = append(fields, p.User, b)
	}
	key := s.quizKey(stream, quizID) + ":players"
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, fields...)
		p.PExpire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return unavailable("save players of quiz "+quizID+" of "+stream, err)
	}
	return nil
}
