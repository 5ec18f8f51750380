package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis layout of the ExtrasStore, next to the core keys of store_redis.go. The per-stream keys sit under the
// stream's hash tag, so that one script may touch all of a feature's keys; the per-user keys sit under a hash
// tag of the user id ({user}), for the same reason. Question ids are item ids (validItemID: no ':' or brace).
//
//	stream:{id}:questions            hash    question id → the Question as asked, JSON (no votes, no flags)
//	stream:{id}:questions:votes      hash    question id → upvotes (HINCRBY)
//	stream:{id}:questions:voters     set     "<question id>:<user>" of every upvote
//	stream:{id}:questions:answered   set     ids of answered questions
//	stream:{id}:questions:hidden     set     ids of hidden questions
//	stream:{id}:questions:pinned     string  id of the pinned question (at most one)
//	stream:{id}:timeline             zset    the items; score OffsetMS, member an encoded item (below)
//	stream:{id}:timeline:seq         string  the stream's next Seq (INCR)
//	stream:{id}:timeline:keys        set     Keys of every item appended (the de-duplication)
//	stream:{id}:timeline:hidden      set     Keys hidden by HideTimeline
//	stream:{id}:audience             set     users who joined the stream
//	user:{user}:last-stream          string  the stream user joined last
//	user:{user}:notify:<day>         hash    "sent" → notifications sent on day; "id:<id>" → the decision
//
// A timeline member is the item's Seq (16 hex digits), the length of its Key (8 hex digits), the Key, the
// length of its Type (8 hex digits), the Type and the Data. Members of equal score (OffsetMS) sort by their
// bytes, that is by Seq, so the sorted set is in (OffsetMS, Seq) order.
//
// The question and audience keys expire RedisConfig.StreamTTL after the stream's last write to them. The
// timeline keys outlive the stream for replays: they expire timelineTTL (30 days, or StreamTTL if longer)
// after the last write to them. A user's last stream expires StreamTTL after the user's last join. A
// notification hash expires notificationTTL (two days) after its last write, so that a decision made on a
// day is still there on the next; DecideNotification looks for an earlier decision of the id in the hashes
// of day and of the day before.
//
// Every checked write (AddQuestion, UpvoteQuestion, SetQuestionFlag, AppendTimeline, DecideNotification) is
// one Lua script, so its check and its write are one step on the server; TimelineItems is a read-only script
// so that a page is one consistent view.

var _ ExtrasStore = (*RedisStore)(nil)

const (
	// timelineTTL is how long a timeline lives after its last write, so that a stream can be replayed for a
	// month after it ended.
	timelineTTL = 30 * 24 * time.Hour
	// notificationTTL is how long a user's notification hash of a day lives after its last write.
	notificationTTL = 48 * time.Hour
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

// questionLua is shared by the question scripts: touch renews the TTL of every key, view answers the
// question ARGV id as {"ok", json, votes, answered, hidden, pinned, changed}.
const questionLua = `
local function touch(ttl)
  for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
end
local function view(id, changed)
  local pinned = redis.call('GET', KEYS[6]) == id
  return {'ok', redis.call('HGET', KEYS[1], id), redis.call('HGET', KEYS[2], id) or '0',
    redis.call('SISMEMBER', KEYS[4], id), redis.call('SISMEMBER', KEYS[5], id), pinned and 1 or 0, changed and 1 or 0}
end
`

// addQuestionScript stores a question. KEYS: questionKeys. ARGV: id, JSON, max, ttl in ms.
var addQuestionScript = redis.NewScript(questionLua + `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'duplicate'} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'closed'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
touch(ARGV[4])
return {'ok'}
`)

// upvoteQuestionScript adds a vote. KEYS: questionKeys. ARGV: id, user, ttl in ms.
var upvoteQuestionScript = redis.NewScript(questionLua + `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return {'not_found'} end
if cjson.decode(raw).user == ARGV[2] then return {'forbidden'} end
if redis.call('SADD', KEYS[3], ARGV[1] .. ':' .. ARGV[2]) == 0 then return {'duplicate'} end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
touch(ARGV[3])
return view(ARGV[1], true)
`)

// setQuestionFlagScript sets or clears a flag. KEYS: questionKeys. ARGV: id, flag, on (1 or 0), ttl in ms.
var setQuestionFlagScript = redis.NewScript(questionLua + `
local id, flag, on = ARGV[1], ARGV[2], ARGV[3] == '1'
if redis.call('HEXISTS', KEYS[1], id) == 0 then return {'not_found'} end
local changed = false
if flag == 'pinned' then
  local isPinned = redis.call('GET', KEYS[6]) == id
  if on and redis.call('SISMEMBER', KEYS[5], id) == 1 then return {'invalid'} end
  if on and not isPinned then
    redis.call('SET', KEYS[6], id)
    changed = true
  elseif not on and isPinned then
    redis.call('DEL', KEYS[6])
    changed = true
  end
else
  local set = KEYS[4]
  if flag == 'hidden' then set = KEYS[5] end
  if on then
    changed = redis.call('SADD', set, id) == 1
  else
    changed = redis.call('SREM', set, id) == 1
  end
  if flag == 'hidden' and on and redis.call('GET', KEYS[6]) == id then redis.call('DEL', KEYS[6]) end
end
touch(ARGV[4])
return view(id, changed)
`)

// questionError turns a script's refusal into the store's error.
func questionError(status, id string, max int) error {
	switch status {
	case "duplicate":
		if max > 0 {
			return Errorf(CodeDuplicate, "question %q exists", id)
		}
		return Errorf(CodeDuplicate, "you already upvoted this question")
	case "closed":
		return Errorf(CodeClosed, "this stream has reached its limit of %d questions", max)
	case "not_found":
		return Errorf(CodeNotFound, "no question %q", id)
	case "forbidden":
		return Errorf(CodeForbidden, "you cannot upvote your own question")
	case "invalid":
		return Invalid("question", "a hidden question cannot be pinned")
	}
	return fmt.Errorf("question %s: unexpected script reply %q", id, status)
}

// questionFromView decodes a question script's view reply (see questionLua); it also returns the changed flag.
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
		return Invalid("question", "question id %q cannot be stored", q.ID)
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
		return questionError(r[0], q.ID, max)
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

func setOf(members []string) map[string]bool {
	m := make(map[string]bool, len(members))
	for _, v := range members {
		m[v] = true
	}
	return m
}

// UpvoteQuestion implements QuestionStore with one script: the voter's SADD and the count's HINCRBY are one
// step, so concurrent votes on any node never lose or double a count.
func (s *RedisStore) UpvoteQuestion(ctx context.Context, stream, id, user string) (Question, error) {
	if !validItemID(id) {
		return Question{}, Errorf(CodeNotFound, "no question %q", id)
	}
	v, err := upvoteQuestionScript.Run(ctx, s.rdb, s.questionKeys(stream), id, user, s.ttl.Milliseconds()).Result()
	if err != nil {
		return Question{}, unavailable("upvote question "+id+" of "+stream, err)
	}
	r := replyStrings(v)
	if r[0] != "ok" {
		return Question{}, questionError(r[0], id, 0)
	}
	q, _, err := questionFromView(r)
	return q, err
}

// SetQuestionFlag implements QuestionStore with one script.
func (s *RedisStore) SetQuestionFlag(ctx context.Context, stream, id, flag string, on bool) (Question, bool, error) {
	if !validItemID(id) {
		return Question{}, false, Errorf(CodeNotFound, "no question %q", id)
	}
	switch flag {
	case FlagPinned, FlagAnswered, FlagHidden:
	default:
		return Question{}, false, Invalid("flag", "unknown question flag %q", flag)
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
		return Question{}, false, questionError(r[0], id, 0)
	}
	return questionFromView(r)
}

func (s *RedisStore) timelineTTL() time.Duration { return max(s.ttl, timelineTTL) }

// appendTimelineScript appends an item with the next Seq. KEYS: timeline, seq, keys. ARGV: key, offset,
// type, data, max, ttl in ms. Returns the item's Seq, or -1 when it was not appended.
var appendTimelineScript = redis.NewScript(`
local key = ARGV[1]
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return -1 end
if key ~= '' and redis.call('SADD', KEYS[3], key) == 0 then return -1 end
local seq = redis.call('INCR', KEYS[2]) - 1
local member = string.format('%016x%08x', seq, #key) .. key .. string.format('%08x', #ARGV[3]) .. ARGV[3] .. ARGV[4]
redis.call('ZADD', KEYS[1], ARGV[2], member)
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[6]) end
return seq
`)

// timelineItemsScript reads a page. KEYS: timeline, hidden. ARGV: min score, max score (exclusive, "(to"),
// cursor offset, cursor seq, limit. Returns member, score pairs of up to limit items after the cursor whose
// Key is not hidden, in order.
var timelineItemsScript = redis.NewScript(`
local afterOffset, afterSeq, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
local chunk = limit + 32
local pos = 0
while true do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', pos, chunk)
  for i = 1, #batch, 2 do
    local m = batch[i]
    local seq = tonumber(string.sub(m, 1, 16), 16)
    local klen = tonumber(string.sub(m, 17, 24), 16)
    local key = string.sub(m, 25, 24 + klen)
    if not (tonumber(batch[i + 1]) == afterOffset and seq <= afterSeq) and redis.call('SISMEMBER', KEYS[2], key) == 0 then
      out[#out + 1] = m
      out[#out + 1] = batch[i + 1]
      if #out >= 2 * limit then return out end
    end
  end
  if #batch < 2 * chunk then return out end
  pos = pos + chunk
end
`)

func (s *RedisStore) timelineKeys(stream string) (timeline, seq, keys, hidden string) {
	return s.streamSubKey(stream, "timeline"), s.streamSubKey(stream, "timeline:seq"),
		s.streamSubKey(stream, "timeline:keys"), s.streamSubKey(stream, "timeline:hidden")
}

// AppendTimeline implements TimelineStore with one script: the Key's de-duplication (SADD, the "set if not
// there" of every node recording the same like sample), the bound, the Seq and the append are one step.
func (s *RedisStore) AppendTimeline(ctx context.Context, stream string, item TimelineItem, max int) (bool, error) {
	timeline, seq, keys, _ := s.timelineKeys(stream)
	n, err := appendTimelineScript.Run(ctx, s.rdb, []string{timeline, seq, keys},
		item.Key, item.OffsetMS, item.Type, []byte(item.Data), max, s.timelineTTL().Milliseconds()).Int64()
	if err != nil {
		return false, unavailable("append to the timeline of "+stream, err)
	}
	return n >= 0, nil
}

// HideTimeline implements TimelineStore.
func (s *RedisStore) HideTimeline(ctx context.Context, stream, key string) error {
	_, _, _, hidden := s.timelineKeys(stream)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, hidden, key)
		p.PExpire(ctx, hidden, s.timelineTTL())
		return nil
	})
	if err != nil {
		return unavailable("hide "+key+" in the timeline of "+stream, err)
	}
	return nil
}

// TimelineItems implements TimelineStore with one read-only script.
func (s *RedisStore) TimelineItems(ctx context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error) {
	out := []TimelineItem{}
	if limit <= 0 || from >= to {
		return out, nil
	}
	timeline, _, _, hidden := s.timelineKeys(stream)
	v, err := timelineItemsScript.Run(ctx, s.rdb, []string{timeline, hidden},
		max(from, afterOffset), "("+strconv.FormatInt(to, 10), afterOffset, afterSeq, limit).StringSlice()
	if err != nil {
		return nil, unavailable("read the timeline of "+stream, err)
	}
	for i := 0; i+1 < len(v); i += 2 {
		it, err := decodeTimelineMember(v[i], v[i+1])
		if err != nil {
			return nil, fmt.Errorf("decode timeline item of %s: %w", stream, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// decodeTimelineMember decodes a timeline member and its score (see the layout above).
func decodeTimelineMember(m, score string) (TimelineItem, error) {
	hexField := func(s string) (int64, error) { return strconv.ParseInt(s, 16, 64) }
	if len(m) < 24 {
		return TimelineItem{}, fmt.Errorf("member of %d bytes", len(m))
	}
	seq, err := hexField(m[:16])
	if err != nil {
		return TimelineItem{}, fmt.Errorf("seq: %w", err)
	}
	klen, err := hexField(m[16:24])
	if err != nil || int64(len(m)) < 24+klen+8 {
		return TimelineItem{}, fmt.Errorf("key length of item %d", seq)
	}
	key, rest := m[24:24+klen], m[24+klen:]
	tlen, err := hexField(rest[:8])
	if err != nil || int64(len(rest)) < 8+tlen {
		return TimelineItem{}, fmt.Errorf("type length of item %d", seq)
	}
	offset, err := strconv.ParseFloat(score, 64)
	if err != nil || math.IsNaN(offset) {
		return TimelineItem{}, fmt.Errorf("offset %q of item %d", score, seq)
	}
	return TimelineItem{
		OffsetMS: int64(offset),
		Type:     rest[8 : 8+tlen],
		Data:     []byte(rest[8+tlen:]),
		Key:      key,
		Seq:      seq,
	}, nil
}

func (s *RedisStore) audienceKey(stream string) string { return s.streamSubKey(stream, "audience") }

func (s *RedisStore) lastStreamKey(user string) string {
	return s.prefix + "user:{" + user + "}:last-stream"
}

func (s *RedisStore) notifyKey(user, day string) string {
	return s.prefix + "user:{" + user + "}:notify:" + day
}

// AddParticipant implements NotificationStore: the audience's SADD and the user's last stream in one MULTI.
func (s *RedisStore) AddParticipant(ctx context.Context, stream, user string, _ time.Time) error {
	audience := s.audienceKey(stream)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
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
		return "", Errorf(CodeNotFound, "user %q joined no stream", user)
	}
	if err != nil {
		return "", unavailable("read the last stream of "+user, err)
	}
	return st, nil
}

// decideNotificationScript is the daily cap. KEYS: the user's hash of day, of the day before. ARGV: id,
// limit, ttl in ms. Returns {decision, 1 if replayed else 0}.
var decideNotificationScript = redis.NewScript(`
local field = 'id:' .. ARGV[1]
for _, k in ipairs(KEYS) do
  local d = redis.call('HGET', k, field)
  if d then return {d, 1} end
end
local d = 'capped'
if tonumber(redis.call('HGET', KEYS[1], 'sent') or '0') < tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[1], 'sent', 1)
  d = 'sent'
end
redis.call('HSET', KEYS[1], field, d)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {d, 0}
`)

// parseDay parses a notification day ("2006-01-02"); the fixed length keeps the hash keys unambiguous.
func parseDay(day string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil || len(day) != len(time.DateOnly) {
		return time.Time{}, Invalid("day", "day %q is not a date such as 2006-01-02", day)
	}
	return t, nil
}

// DecideNotification implements NotificationStore with one script: the replay check, the cap's check and
// its increment are one step per user, on every node.
func (s *RedisStore) DecideNotification(ctx context.Context, id, user, day string, limit int) (string, bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return "", false, err
	}
	keys := []string{s.notifyKey(user, day), s.notifyKey(user, d.AddDate(0, 0, -1).Format(time.DateOnly))}
	v, err := decideNotificationScript.Run(ctx, s.rdb, keys, id, limit, notificationTTL.Milliseconds()).Result()
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
