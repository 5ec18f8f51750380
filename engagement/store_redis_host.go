package engagement

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis layout of the HostStore, next to the core keys of store_redis.go and under the same stream hash tag,
// so that one script may touch every key of a stream's host tools. Item ids (pid, qid, cid, did) follow the
// stream's as plain text; they are the service's ULIDs, and an id holding ':' or a brace is refused as
// unknown so that no id can name another item's key. Instants are kept as Unix µs for the scripts to compare.
//
//	stream:{id}:poll                       hash    the poll opened last: id, status
//	stream:{id}:poll:{pid}                 hash    json (the Poll as opened), status, opens, closes (µs, "" for
//	                                               none), options (how many), total, closed_at (RFC 3339)
//	stream:{id}:poll:{pid}:counts          hash    option index → votes
//	stream:{id}:poll:{pid}:voters          set     users who voted in the poll
//	stream:{id}:voters                     set     users who voted in any poll of the stream
//	stream:{id}:quiz                       string  id of the active quiz (created last)
//	stream:{id}:quiz:{qid}                 hash    json (the Quiz without counts) and what AnswerQuiz checks:
//	                                               current, status, revealed, opens, deadline (µs), questions
//	                                               (how many), choices (how many in the current question)
//	stream:{id}:quiz:{qid}:counts          hash    "question:choice" → answers
//	stream:{id}:quiz:{qid}:answers:{n}     list    accepted answers to question n as JSON, in order
//	stream:{id}:quiz:{qid}:answered:{n}    set     users who answered question n
//	stream:{id}:quiz:{qid}:players         hash    user → QuizPlayer as JSON
//	stream:{id}:feedback                   hash    "rating:1".."rating:5", "nps:0".."nps:10" → count
//	stream:{id}:feedback:given             set     "kind:user" of every feedback given
//	stream:{id}:coupons                    list    coupon ids, oldest first
//	stream:{id}:coupon:{cid}               hash    json (the Coupon as created), opens, expires (µs), remaining
//	stream:{id}:coupon:{cid}:claims        hash    user → code
//	stream:{id}:draw                       string  id of the draw created last
//	stream:{id}:draw:{did}                 hash    json (the Draw, which leaves out Seed), seed, status, opens (µs)
//	stream:{id}:draw:{did}:entrants        hash    user → DrawEntrant as JSON
//	stream:{id}:commenters                 set     users who commented
//
// Every key expires RedisConfig.StreamTTL after the last write to it. The checked writes (OpenPoll, VotePoll,
// ClosePoll, AnswerQuiz, AddFeedback, ClaimCoupon, EnterDraw and the creations) are Lua scripts, so each
// check and its write are one step on the server; UpdateQuiz and UpdateDraw are WATCH/MULTI with retries,
// as UpdateStream. Time checks compare to the microsecond.

var _ HostStore = (*RedisStore)(nil)

func (s *RedisStore) hostKey(stream, kind, id string) string {
	return s.streamSubKey(stream, kind+":"+id)
}

// validItemID reports whether id can name a key of its own (see the layout above).
func validItemID(id string) bool { return id != "" && !strings.ContainsAny(id, ":{}") }

func ttlMS(ttl time.Duration) int64 { return ttl.Milliseconds() }

// replyStrings turns a script's array reply into strings: the first is the outcome, the rest its data.
func replyStrings(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprint(v)}
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		switch e := e.(type) {
		case string:
			out[i] = e
		case int64:
			out[i] = strconv.FormatInt(e, 10)
		case nil:
		default:
			out[i] = fmt.Sprint(e)
		}
	}
	return out
}

// runScript runs sc and returns its outcome and data; Redis failures are wrapped as unavailable for op.
func (s *RedisStore) runScript(ctx context.Context, op string, sc *redis.Script, keys []string, args ...any) (string, []string, error) {
	v, err := sc.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return "", nil, unavailable(op, err)
	}
	r := replyStrings(v)
	if len(r) == 0 {
		return "", nil, unavailable(op, errors.New("empty script reply"))
	}
	return r[0], r[1:], nil
}

// pairs turns a flat field/value list into a map.
func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

// createItemScript stores a new item's hash and makes it current. KEYS: item hash, pointer (a string set to
// the id, or a list the id is pushed on). ARGV: id, ttl ms, "set" or "push", then the hash's field/values.
// Returns 0 if the item exists.
var createItemScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] == 'push' then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
end
return 1
`)

func (s *RedisStore) createItem(ctx context.Context, op, key, pointer, id, mode string, fields []any) (bool, error) {
	args := append([]any{id, ttlMS(s.ttl), mode}, fields...)
	n, err := createItemScript.Run(ctx, s.rdb, []string{key, pointer}, args...).Int()
	if err != nil {
		return false, unavailable(op, err)
	}
	return n == 1, nil
}

// pointerID reads the id a pointer string holds, or ErrNotFound naming what.
func (s *RedisStore) pointerID(ctx context.Context, op, key, what, stream string) (string, error) {
	id, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", Errorf(CodeNotFound, "no %s on %q", what, stream)
	}
	if err != nil {
		return "", unavailable(op, err)
	}
	return id, nil
}

// Polls.

// pollReplyLua returns outcome followed by the poll's json, status, closed_at, total and its counts as
// field/value pairs.
const pollReplyLua = `
local function poll_reply(outcome, pkey, ckey)
  local h = redis.call('HMGET', pkey, 'json', 'status', 'closed_at', 'total')
  local out = {outcome, h[1] or '', h[2] or '', h[3] or '', h[4] or '0'}
  for _, v in ipairs(redis.call('HGETALL', ckey)) do out[#out + 1] = v end
  return out
end
`

// getPollScript reads a poll in one step. KEYS: poll hash, counts.
var getPollScript = redis.NewScript(pollReplyLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
return poll_reply('ok', KEYS[1], KEYS[2])
`)

// openPollScript opens a poll unless the current one is open. KEYS: pointer, poll hash, counts, voters.
// ARGV: id, ttl ms, open status, then the poll hash's field/values. Returns 'open', 'exists' or 'ok'.
var openPollScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'status') == ARGV[3] then return 'open' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'ok'
`)

// votePollScript checks and counts a vote. KEYS: poll hash, counts, poll voters, stream voters, pointer
// (only its TTL is renewed, so that it lives as long as the poll it may name). ARGV: user, option, now µs, ttl ms, open status.
var votePollScript = redis.NewScript(pollReplyLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'opens', 'closes', 'options')
if not h[1] then return {'not_found'} end
if h[1] ~= ARGV[5] then return {'closed'} end
local now = tonumber(ARGV[3])
if now < tonumber(h[2]) then return {'not_yet'} end
if h[3] ~= '' and now >= tonumber(h[3]) then return {'closed'} end
local opt = tonumber(ARGV[2])
if opt < 0 or opt >= tonumber(h[4]) then return {'invalid', h[4]} end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return {'duplicate'} end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('SADD', KEYS[4], ARGV[1])
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return poll_reply('ok', KEYS[1], KEYS[2])
`)

// closePollScript closes a poll once. KEYS: poll hash, counts, pointer. ARGV: id, closed_at, ttl ms, closed
// status. Returns 'not_found', or 'closed' (this call closed it) / 'already' with the poll.
var closePollScript = redis.NewScript(pollReplyLua + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'not_found'} end
if st == ARGV[4] then return poll_reply('already', KEYS[1], KEYS[2]) end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'closed_at', ARGV[2])
if redis.call('HGET', KEYS[3], 'id') == ARGV[1] then
  redis.call('HSET', KEYS[3], 'status', ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return poll_reply('closed', KEYS[1], KEYS[2])
`)

func (s *RedisStore) pollKeys(stream, id string) (poll, counts, voters string) {
	poll = s.hostKey(stream, "poll", id)
	return poll, poll + ":counts", poll + ":voters"
}

// decodePoll builds a Poll from a poll_reply's data: json, status, closed_at, total, count pairs.
func decodePoll(id string, data []string) (Poll, error) {
	if len(data) < 4 {
		return Poll{}, fmt.Errorf("decode poll %s: short reply", id)
	}
	var p Poll
	if err := json.Unmarshal([]byte(data[0]), &p); err != nil {
		return Poll{}, fmt.Errorf("decode poll %s: %w", id, err)
	}
	p.Status = data[1]
	if data[2] != "" {
		t, err := time.Parse(time.RFC3339Nano, data[2])
		if err != nil {
			return Poll{}, fmt.Errorf("decode poll %s closing time: %w", id, err)
		}
		p.ClosedAt = t
	}
	var err error
	if p.Total, err = strconv.ParseInt(data[3], 10, 64); err != nil {
		return Poll{}, fmt.Errorf("decode poll %s total: %w", id, err)
	}
	p.Counts = make([]int64, len(p.Options))
	for k, v := range pairs(data[4:]) {
		i, err1 := strconv.Atoi(k)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return Poll{}, fmt.Errorf("decode poll %s counts: %w", id, err)
		}
		if i >= 0 && i < len(p.Counts) {
			p.Counts[i] = n
		}
	}
	return p, nil
}

// OpenPoll implements PollStore with one script.
func (s *RedisStore) OpenPoll(ctx context.Context, stream string, p Poll) error {
	if !validItemID(p.ID) {
		return Invalid("id", "poll id %q cannot be stored", p.ID)
	}
	p = clonePoll(p)
	p.Status, p.Total, p.Counts, p.ClosedAt = PollOpen, 0, nil, time.Time{}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode poll %s: %w", p.ID, err)
	}
	closes := ""
	if !p.ClosesAt.IsZero() {
		closes = strconv.FormatInt(p.ClosesAt.UnixMicro(), 10)
	}
	key, counts, voters := s.pollKeys(stream, p.ID)
	op := "open poll " + p.ID + " on " + stream
	res, _, err := s.runScript(ctx, op, openPollScript, []string{s.streamSubKey(stream, "poll"), key, counts, voters},
		p.ID, ttlMS(s.ttl), PollOpen,
		"json", b, "status", PollOpen, "opens", p.OpensAt.UnixMicro(), "closes", closes, "options", len(p.Options), "total", 0)
	switch {
	case err != nil:
		return err
	case res == "open":
		return Errorf(CodeDuplicate, "another poll is still open")
	case res == "exists":
		return Errorf(CodeDuplicate, "poll %q exists", p.ID)
	}
	return nil
}

// Poll implements PollStore.
func (s *RedisStore) Poll(ctx context.Context, stream, id string) (Poll, error) {
	if !validItemID(id) {
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	}
	key, counts, _ := s.pollKeys(stream, id)
	res, data, err := s.runScript(ctx, "get poll "+id+" of "+stream, getPollScript, []string{key, counts})
	if err != nil {
		return Poll{}, err
	}
	if res == "not_found" {
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	}
	return decodePoll(id, data)
}

// CurrentPoll implements PollStore.
func (s *RedisStore) CurrentPoll(ctx context.Context, stream string) (Poll, error) {
	id, err := s.rdb.HGet(ctx, s.streamSubKey(stream, "poll"), "id").Result()
	if errors.Is(err, redis.Nil) {
		return Poll{}, Errorf(CodeNotFound, "no poll on %q", stream)
	}
	if err != nil {
		return Poll{}, unavailable("get current poll of "+stream, err)
	}
	p, err := s.Poll(ctx, stream, id)
	if errors.Is(err, ErrNotFound) {
		return Poll{}, Errorf(CodeNotFound, "no poll on %q", stream)
	}
	return p, err
}

// VotePoll implements PollStore with one script: the checks, the voter set and the tally are one step.
func (s *RedisStore) VotePoll(ctx context.Context, stream, id, user string, option int, now time.Time) (Poll, error) {
	if !validItemID(id) {
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	}
	key, counts, voters := s.pollKeys(stream, id)
	res, data, err := s.runScript(ctx, "vote in poll "+id+" of "+stream, votePollScript,
		[]string{key, counts, voters, s.streamSubKey(stream, "voters"), s.streamSubKey(stream, "poll")},
		user, option, now.UnixMicro(), ttlMS(s.ttl), PollOpen)
	if err != nil {
		return Poll{}, err
	}
	switch res {
	case "ok":
		return decodePoll(id, data)
	case "not_found":
		return Poll{}, Errorf(CodeNotFound, "no poll %q", id)
	case "closed":
		return Poll{}, Errorf(CodeClosed, "poll is closed")
	case "not_yet":
		return Poll{}, notYetOpen("poll")
	case "invalid":
		n, _ := strconv.Atoi(data[0])
		return Poll{}, Invalid("option", "option must be 0..%d", n-1)
	case "duplicate":
		return Poll{}, Errorf(CodeDuplicate, "you already voted in this poll")
	}
	return Poll{}, fmt.Errorf("vote in poll %s: unexpected script outcome %q", id, res)
}

// ClosePoll implements PollStore with one script.
func (s *RedisStore) ClosePoll(ctx context.Context, stream, id string, now time.Time) (Poll, bool, error) {
	if !validItemID(id) {
		return Poll{}, false, Errorf(CodeNotFound, "no poll %q", id)
	}
	key, counts, _ := s.pollKeys(stream, id)
	res, data, err := s.runScript(ctx, "close poll "+id+" of "+stream, closePollScript,
		[]string{key, counts, s.streamSubKey(stream, "poll")},
		id, now.UTC().Format(time.RFC3339Nano), ttlMS(s.ttl), PollClosed)
	if err != nil {
		return Poll{}, false, err
	}
	if res == "not_found" {
		return Poll{}, false, Errorf(CodeNotFound, "no poll %q", id)
	}
	p, err := decodePoll(id, data)
	if err != nil {
		return Poll{}, false, err
	}
	return p, res == "closed", nil
}

// HasVoted implements PollStore.
func (s *RedisStore) HasVoted(ctx context.Context, stream, user string) (bool, error) {
	v, err := s.rdb.SIsMember(ctx, s.streamSubKey(stream, "voters"), user).Result()
	if err != nil {
		return false, unavailable("check voter "+user+" of "+stream, err)
	}
	return v, nil
}

// Quizzes.

func (s *RedisStore) quizKey(stream, id string) string { return s.hostKey(stream, "quiz", id) }

func (s *RedisStore) quizNotFound(id string) error { return Errorf(CodeNotFound, "no quiz %q", id) }

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
		return Quiz{}, s.quizNotFound(id)
	}
	if err != nil {
		return Quiz{}, unavailable("get quiz "+id+" of "+stream, err)
	}
	return decodeQuiz(id, raw.Val(), counts.Val())
}

// CreateQuiz implements QuizStore with one script.
func (s *RedisStore) CreateQuiz(ctx context.Context, stream string, q Quiz) error {
	if !validItemID(q.ID) {
		return Invalid("id", "quiz id %q cannot be stored", q.ID)
	}
	fields, err := quizFields(q)
	if err != nil {
		return err
	}
	return s.createNew(ctx, "quiz", stream, q.ID, s.quizKey(stream, q.ID), s.streamSubKey(stream, "quiz"), "set", fields)
}

// Quiz implements QuizStore.
func (s *RedisStore) Quiz(ctx context.Context, stream, id string) (Quiz, error) {
	if !validItemID(id) {
		return Quiz{}, s.quizNotFound(id)
	}
	return s.getQuiz(ctx, s.rdb, stream, id)
}

// ActiveQuiz implements QuizStore.
func (s *RedisStore) ActiveQuiz(ctx context.Context, stream string) (Quiz, error) {
	id, err := s.pointerID(ctx, "get active quiz of "+stream, s.streamSubKey(stream, "quiz"), "quiz", stream)
	if err != nil {
		return Quiz{}, err
	}
	q, err := s.Quiz(ctx, stream, id)
	if errors.Is(err, ErrNotFound) {
		return Quiz{}, Errorf(CodeNotFound, "no quiz on %q", stream)
	}
	return q, err
}

// UpdateQuiz implements QuizStore with WATCH/MULTI, as UpdateStream. The counts are AnswerQuiz's: they live
// in their own hash, so an update never writes them.
func (s *RedisStore) UpdateQuiz(ctx context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error) {
	if !validItemID(id) {
		return Quiz{}, s.quizNotFound(id)
	}
	key := s.quizKey(stream, id)
	var out Quiz
	err := s.optimistic(ctx, "update quiz "+id+" of "+stream, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		q, err := s.getQuiz(ctx, tx, stream, id)
		if err != nil {
			return nil, err
		}
		before := cloneQuiz(q)
		if err := fn(&q); err != nil {
			return nil, userError{err}
		}
		for i := range q.Questions {
			if i < len(before.Questions) {
				q.Questions[i].Counts = before.Questions[i].Counts
			} else {
				q.Questions[i].Counts = make([]int64, len(q.Questions[i].Choices))
			}
		}
		fields, err := quizFields(q)
		if err != nil {
			return nil, err
		}
		out = q
		return func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fields...)
			p.PExpire(ctx, key, s.ttl)
			return nil
		}, nil
	})
	if err != nil {
		return Quiz{}, err
	}
	return cloneQuiz(out), nil
}

// answerQuizScript checks and records an answer. KEYS: quiz hash, counts, answers of the question, users who
// answered it. ARGV: question, choice, user, answer JSON, now µs, ttl ms, running status.
var answerQuizScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'current', 'status', 'revealed', 'opens', 'deadline', 'questions', 'choices')
if not h[1] then return {'not_found'} end
local q = tonumber(ARGV[1])
if q < 0 or q >= tonumber(h[6]) or q ~= tonumber(h[1]) or h[2] ~= ARGV[7] or h[3] == '1' then
  return {'closed'}
end
local now = tonumber(ARGV[5])
if now < tonumber(h[4]) then return {'not_yet'} end
if now >= tonumber(h[5]) then return {'time_up'} end
local choice = tonumber(ARGV[2])
if choice < 0 or choice >= tonumber(h[7]) then return {'invalid', h[7]} end
if redis.call('SADD', KEYS[4], ARGV[3]) == 0 then return {'duplicate'} end
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':' .. ARGV[2], 1)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {'ok'}
`)

// AnswerQuiz implements QuizStore with one script.
func (s *RedisStore) AnswerQuiz(ctx context.Context, stream, quizID string, a QuizResponse, now time.Time) error {
	if !validItemID(quizID) {
		return s.quizNotFound(quizID)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode answer of %s to quiz %s: %w", a.User, quizID, err)
	}
	key := s.quizKey(stream, quizID)
	n := strconv.Itoa(a.Question)
	res, data, err := s.runScript(ctx, "answer quiz "+quizID+" of "+stream, answerQuizScript,
		[]string{key, key + ":counts", key + ":answers:" + n, key + ":answered:" + n},
		a.Question, a.Choice, a.User, b, now.UnixMicro(), ttlMS(s.ttl), QuizRunning)
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "not_found":
		return s.quizNotFound(quizID)
	case "closed":
		return Errorf(CodeClosed, "this question is not open")
	case "not_yet":
		return notYetOpen("question")
	case "time_up":
		return Errorf(CodeClosed, "time is up for this question")
	case "invalid":
		c, _ := strconv.Atoi(data[0])
		return Invalid("choice", "choice must be 0..%d", c-1)
	case "duplicate":
		return Errorf(CodeDuplicate, "you already answered this question")
	}
	return fmt.Errorf("answer quiz %s: unexpected script outcome %q", quizID, res)
}

// quizExists answers ErrNotFound for an unknown quiz.
func (s *RedisStore) quizExists(ctx context.Context, stream, id string) error {
	if !validItemID(id) {
		return s.quizNotFound(id)
	}
	n, err := s.rdb.Exists(ctx, s.quizKey(stream, id)).Result()
	if err != nil {
		return unavailable("find quiz "+id+" of "+stream, err)
	}
	if n == 0 {
		return s.quizNotFound(id)
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

// Feedback.

// addFeedbackScript records one feedback per user and kind. KEYS: counts hash, given set. ARGV: given
// member, counts field, ttl ms. Returns the outcome and the counts as field/value pairs.
var addFeedbackScript = redis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {'duplicate'} end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local out = {'ok'}
for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
return out
`)

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
		return FeedbackCounts{}, Invalid("kind", "unknown feedback kind %q", kind)
	}
	if score < 0 || score > top || (kind == FeedbackRating && score < 1) {
		return FeedbackCounts{}, Invalid("score", "score out of range")
	}
	key := s.streamSubKey(stream, "feedback")
	res, data, err := s.runScript(ctx, "add feedback of "+user+" to "+stream, addFeedbackScript,
		[]string{key, key + ":given"}, kind+":"+user, kind+":"+strconv.Itoa(score), ttlMS(s.ttl))
	if err != nil {
		return FeedbackCounts{}, err
	}
	if res == "duplicate" {
		return FeedbackCounts{}, Errorf(CodeDuplicate, "you already gave this feedback")
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

// Coupons.

func (s *RedisStore) couponKey(stream, id string) string { return s.hostKey(stream, "coupon", id) }

func couponNotFound(id string) error { return Errorf(CodeNotFound, "no coupon %q", id) }

// decodeCoupon builds a Coupon from its JSON and remaining stock.
func decodeCoupon(id, raw, remaining string) (Coupon, error) {
	var c Coupon
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Coupon{}, fmt.Errorf("decode coupon %s: %w", id, err)
	}
	n, err := strconv.ParseInt(remaining, 10, 64)
	if err != nil {
		return Coupon{}, fmt.Errorf("decode coupon %s stock: %w", id, err)
	}
	c.Remaining = n
	return c, nil
}

// CreateCoupon implements CouponStore with one script.
func (s *RedisStore) CreateCoupon(ctx context.Context, stream string, c Coupon) error {
	if !validItemID(c.ID) {
		return Invalid("id", "coupon id %q cannot be stored", c.ID)
	}
	c.Remaining = c.Stock
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode coupon %s: %w", c.ID, err)
	}
	fields := []any{"json", b, "opens", c.OpensAt.UnixMicro(), "expires", c.ExpiresAt.UnixMicro(), "remaining", c.Stock}
	return s.createNew(ctx, "coupon", stream, c.ID, s.couponKey(stream, c.ID), s.streamSubKey(stream, "coupons"), "push", fields)
}

// Coupon implements CouponStore.
func (s *RedisStore) Coupon(ctx context.Context, stream, id string) (Coupon, error) {
	if !validItemID(id) {
		return Coupon{}, couponNotFound(id)
	}
	v, err := s.rdb.HMGet(ctx, s.couponKey(stream, id), "json", "remaining").Result()
	if err != nil {
		return Coupon{}, unavailable("get coupon "+id+" of "+stream, err)
	}
	h := replyStrings(v)
	if h[0] == "" {
		return Coupon{}, couponNotFound(id)
	}
	return decodeCoupon(id, h[0], h[1])
}

// Coupons implements CouponStore. A coupon whose keys expired before the list's is left out.
func (s *RedisStore) Coupons(ctx context.Context, stream string) ([]Coupon, error) {
	ids, err := s.rdb.LRange(ctx, s.streamSubKey(stream, "coupons"), 0, -1).Result()
	if err != nil {
		return nil, unavailable("list coupons of "+stream, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.couponKey(stream, id), "json", "remaining")
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("get coupons of "+stream, err)
	}
	cs := make([]Coupon, 0, len(ids))
	for i, cmd := range cmds {
		h := replyStrings(cmd.Val())
		if h[0] == "" {
			continue
		}
		c, err := decodeCoupon(ids[i], h[0], h[1])
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// claimCouponScript gives one unit to a user once. KEYS: coupon hash, claims. ARGV: user, code, now µs,
// ttl ms. Returns the outcome, and on 'ok' the coupon's JSON and remaining stock.
var claimCouponScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'json', 'opens', 'expires', 'remaining')
if not h[1] then return {'not_found'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'duplicate'} end
local now = tonumber(ARGV[3])
if now < tonumber(h[2]) then return {'not_yet'} end
if now >= tonumber(h[3]) then return {'expired'} end
if tonumber(h[4]) <= 0 then return {'no_stock'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local left = redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'ok', h[1], left}
`)

// ClaimCoupon implements CouponStore with one script, so the stock never oversells.
func (s *RedisStore) ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, error) {
	if !validItemID(id) {
		return Coupon{}, couponNotFound(id)
	}
	key := s.couponKey(stream, id)
	res, data, err := s.runScript(ctx, "claim coupon "+id+" of "+stream, claimCouponScript,
		[]string{key, key + ":claims"}, user, code, now.UnixMicro(), ttlMS(s.ttl))
	if err != nil {
		return Coupon{}, err
	}
	switch res {
	case "ok":
		return decodeCoupon(id, data[0], data[1])
	case "not_found":
		return Coupon{}, couponNotFound(id)
	case "duplicate":
		return Coupon{}, Errorf(CodeDuplicate, "you already claimed this coupon")
	case "not_yet":
		return Coupon{}, notYetOpen("coupon")
	case "expired":
		return Coupon{}, Errorf(CodeClosed, "coupon has expired")
	case "no_stock":
		return Coupon{}, Errorf(CodeClosed, "coupon is out of stock")
	}
	return Coupon{}, fmt.Errorf("claim coupon %s: unexpected script outcome %q", id, res)
}

// Draws.

func (s *RedisStore) drawKey(stream, id string) string { return s.hostKey(stream, "draw", id) }

func drawNotFound(id string) error { return Errorf(CodeNotFound, "no draw %q", id) }

// drawFields returns the draw hash's field/values; the seed is a field of its own, as Draw's JSON omits it.
func drawFields(d Draw) ([]any, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode draw %s: %w", d.ID, err)
	}
	return []any{"json", b, "seed", d.Seed, "status", d.Status, "opens", d.OpensAt.UnixMicro()}, nil
}

// getDraw reads a draw, seed included, through c.
func (s *RedisStore) getDraw(ctx context.Context, c redis.Cmdable, stream, id string) (Draw, error) {
	v, err := c.HMGet(ctx, s.drawKey(stream, id), "json", "seed").Result()
	if err != nil {
		return Draw{}, unavailable("get draw "+id+" of "+stream, err)
	}
	h := replyStrings(v)
	if h[0] == "" {
		return Draw{}, drawNotFound(id)
	}
	var d Draw
	if err := json.Unmarshal([]byte(h[0]), &d); err != nil {
		return Draw{}, fmt.Errorf("decode draw %s: %w", id, err)
	}
	d.Seed = h[1]
	return d, nil
}

// CreateDraw implements DrawStore with one script.
func (s *RedisStore) CreateDraw(ctx context.Context, stream string, d Draw) error {
	if !validItemID(d.ID) {
		return Invalid("id", "draw id %q cannot be stored", d.ID)
	}
	fields, err := drawFields(d)
	if err != nil {
		return err
	}
	return s.createNew(ctx, "draw", stream, d.ID, s.drawKey(stream, d.ID), s.streamSubKey(stream, "draw"), "set", fields)
}

// createNew stores a new item of kind with createItem and reports an id already in use as ErrDuplicate.
func (s *RedisStore) createNew(ctx context.Context, kind, stream, id, key, index, mode string, fields []any) error {
	created, err := s.createItem(ctx, "create "+kind+" "+id+" on "+stream, key, index, id, mode, fields)
	if err != nil {
		return err
	}
	if !created {
		return Errorf(CodeDuplicate, "%s %q exists", kind, id)
	}
	return nil
}

// Draw implements DrawStore.
func (s *RedisStore) Draw(ctx context.Context, stream, id string) (Draw, error) {
	if !validItemID(id) {
		return Draw{}, drawNotFound(id)
	}
	return s.getDraw(ctx, s.rdb, stream, id)
}

// CurrentDraw implements DrawStore.
func (s *RedisStore) CurrentDraw(ctx context.Context, stream string) (Draw, error) {
	id, err := s.pointerID(ctx, "get current draw of "+stream, s.streamSubKey(stream, "draw"), "draw", stream)
	if err != nil {
		return Draw{}, err
	}
	d, err := s.Draw(ctx, stream, id)
	if errors.Is(err, ErrNotFound) {
		return Draw{}, Errorf(CodeNotFound, "no draw on %q", stream)
	}
	return d, err
}

// UpdateDraw implements DrawStore with WATCH/MULTI, as UpdateStream.
func (s *RedisStore) UpdateDraw(ctx context.Context, stream, id string, fn func(*Draw) error) (Draw, error) {
	if !validItemID(id) {
		return Draw{}, drawNotFound(id)
	}
	key := s.drawKey(stream, id)
	var out Draw
	err := s.optimistic(ctx, "update draw "+id+" of "+stream, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		d, err := s.getDraw(ctx, tx, stream, id)
		if err != nil {
			return nil, err
		}
		if err := fn(&d); err != nil {
			return nil, userError{err}
		}
		fields, err := drawFields(d)
		if err != nil {
			return nil, err
		}
		out = d
		return func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fields...)
			p.PExpire(ctx, key, s.ttl)
			return nil
		}, nil
	})
	if err != nil {
		return Draw{}, err
	}
	return cloneDraw(out), nil
}

// enterDrawScript adds an entrant once. KEYS: draw hash, entrants. ARGV: user, entrant JSON, now µs, ttl ms,
// open status.
var enterDrawScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'status', 'opens')
if not h[1] then return {'not_found'} end
if h[1] ~= ARGV[5] then return {'closed'} end
if tonumber(ARGV[3]) < tonumber(h[2]) then return {'not_yet'} end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return {'duplicate'} end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'ok'}
`)

// EnterDraw implements DrawStore with one script.
func (s *RedisStore) EnterDraw(ctx context.Context, stream, id string, e DrawEntrant, now time.Time) error {
	if !validItemID(id) {
		return drawNotFound(id)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode entrant %s of draw %s: %w", e.User, id, err)
	}
	key := s.drawKey(stream, id)
	res, _, err := s.runScript(ctx, "enter draw "+id+" of "+stream, enterDrawScript,
		[]string{key, key + ":entrants"}, e.User, b, now.UnixMicro(), ttlMS(s.ttl), DrawOpen)
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "not_found":
		return drawNotFound(id)
	case "closed":
		return Errorf(CodeClosed, "this draw is closed")
	case "not_yet":
		return notYetOpen("draw")
	case "duplicate":
		return Errorf(CodeDuplicate, "you are already in this draw")
	}
	return fmt.Errorf("enter draw %s: unexpected script outcome %q", id, res)
}

// DrawEntrants implements DrawStore.
func (s *RedisStore) DrawEntrants(ctx context.Context, stream, id string) ([]DrawEntrant, error) {
	if !validItemID(id) {
		return nil, drawNotFound(id)
	}
	key := s.drawKey(stream, id)
	var exists *redis.IntCmd
	var vals *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, key)
		vals = p.HVals(ctx, key+":entrants")
		return nil
	})
	if err != nil {
		return nil, unavailable("get entrants of draw "+id+" of "+stream, err)
	}
	if exists.Val() == 0 {
		return nil, drawNotFound(id)
	}
	es := make([]DrawEntrant, 0, len(vals.Val()))
	for _, r := range vals.Val() {
		var e DrawEntrant
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode entrant of draw %s: %w", id, err)
		}
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b DrawEntrant) int { return cmp.Compare(a.User, b.User) })
	return es, nil
}

// MarkCommenter implements DrawStore: SADD and PEXPIRE in one MULTI.
func (s *RedisStore) MarkCommenter(ctx context.Context, stream, user string) error {
	key := s.streamSubKey(stream, "commenters")
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key, user)
		p.PExpire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return unavailable("mark commenter "+user+" of "+stream, err)
	}
	return nil
}

// HasCommented implements DrawStore.
func (s *RedisStore) HasCommented(ctx context.Context, stream, user string) (bool, error) {
	v, err := s.rdb.SIsMember(ctx, s.streamSubKey(stream, "commenters"), user).Result()
	if err != nil {
		return false, unavailable("check commenter "+user+" of "+stream, err)
	}
	return v, nil
}

// CouponCode implements CouponStore.
func (s *RedisStore) CouponCode(ctx context.Context, stream, id, user string) (string, error) {
	if !validItemID(id) {
		return "", nil
	}
	code, err := s.rdb.HGet(ctx, s.couponKey(stream, id)+":claims", user).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", unavailable("read coupon code of "+id, err)
	}
	return code, nil
}
