package engagement

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/redisack"
)

// The Redis key layout of the Store, every key under RedisConfig.Prefix (default "kudos:"). The stream id sits
// in literal braces, a Redis Cluster hash tag, so that all keys of one stream share a slot and one script may
// touch several of them; the per-user keys sit under a hash tag of the user id ({user}) for the same reason.
// Stream ids are ValidStreamID (no braces), so keys of two streams never collide. Item ids (pid, qid, cid,
// did, question ids) follow as plain text; they are the service's ULIDs, and an id holding ':' or a brace is
// refused (validItemID) so that no id can name another item's key. Instants are Unix µs for the scripts to
// compare.
//
// Streams and chat (stream_redis.go, chat_redis.go, like_redis.go, points_redis.go):
//
//	stream:{id}                            string  the Stream as JSON: the record (its TTL: Expiry, below)
//	stream:{id}:comments                   list    recent comments as JSON, oldest first, trimmed to the newest keep
//	stream:{id}:removed                    set     ids of removed comments
//	stream:{id}:mod                        string  the Moderation settings as JSON (Retention after its last change)
//	stream:{id}:slot:<user>                string  slow mode: when user last took a slot (µs), expires after the gap
//	stream:{id}:likes                      string  the like counter (INCRBY)
//	stream:{id}:score:<kind>:<user>        string  ScoreStore's LimitState as JSON ({id} empty: user-wide)
//
// Polls, quizzes, feedback, coupons and draws (poll_redis.go, quiz_redis.go, feedback_redis.go,
// coupon_redis.go, draw_redis.go):
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
//	stream:{id}:coupon:{cid}               hash    json (the Coupon as created), opens, expires (µs), remaining,
//	                                               pool ("1" if the shop supplied the codes)
//	stream:{id}:coupon:{cid}:claims        hash    user → code
//	stream:{id}:coupon:{cid}:pool          list    the shop's codes not yet claimed, in order (with pool "1")
//	stream:{id}:draw                       string  id of the draw created last
//	stream:{id}:draw:{did}                 hash    json (the Draw, which leaves out Seed), seed, status, opens (µs)
//	stream:{id}:draw:{did}:entrants        hash    user → DrawEntrant as JSON
//	stream:{id}:commenters                 set     users who commented
//
// Questions, the replay timeline and notifications (question_redis.go, timeline_redis.go,
// notification_redis.go):
//
//	stream:{id}:questions                  hash    question id → the Question as asked, JSON (no votes, no flags)
//	stream:{id}:questions:votes            hash    question id → upvotes (HINCRBY)
//	stream:{id}:questions:voters           set     "<question id>:<user>" of every upvote
//	stream:{id}:questions:answered         set     ids of answered questions
//	stream:{id}:questions:hidden           set     ids of hidden questions
//	stream:{id}:questions:pinned           string  id of the pinned question (at most one)
//	stream:{id}:timeline                   zset    the items; score OffsetMS, member an encoded item (below)
//	stream:{id}:timeline:seq               string  the stream's next Seq (INCR)
//	stream:{id}:timeline:keys              set     Keys of every item appended (the de-duplication)
//	stream:{id}:timeline:hidden            set     Keys hidden by HideTimeline
//	stream:{id}:timeline:text:<key>        string  a comment's full data (name, text), TextRetention after it was appended
//	stream:{id}:audience                   set     users who joined the stream
//	stream:{id}:products                   hash    product id → the Product as JSON (product_redis.go)
//	stream:{id}:products:order             list    product ids in the order added
//	stream:{id}:products:pinned            string  id of the pinned product (at most one)
//	stream:{id}:product-click:<pid>:<user> string  user clicked the product: expires ProductClickWindow after
//	                                               the click that set it (SET NX), not StreamTTL
//	stream:{id}:sales                      hash    sales per show (sales_redis.go): orders, gmv (fen), and per
//	                                               product "p:<pid>:clicks", ":orders", ":units", ":gmv"
//	stream:{id}:sales:orders               hash    order id → the SaleOrder counted, JSON (the idempotency)
//	stream:{id}:sales:refunded             set     ids of the counted orders refunded whole
//	stream:{id}:sales:buyer-orders         hash    user → their counted orders not refunded whole
//	stream:{id}:sales:viewers              hll     users who joined as viewers (PFADD)
//	stream:{id}:sales:buyers               set     the buyers as versions before partial refunds kept them:
//	                                               read into buyer-orders by the next sales write, then gone
//	                                               (every sales write renews all six sales keys together)
//	user:{user}:last-stream                string  the stream user joined last
//	coupon-code:{<hmac>}                   hash    the codes index: a claimed code's record under the hex HMAC of
//	                                               the code (couponCodeKey), never the code: json (ClaimedCode as
//	                                               claimed), expires (µs), order and redeemed (µs) once redeemed
//	user:{user}:coupons                    zset    the codes user claimed of coupon drops (UserCoupons): member
//	                                               the UserCoupon as JSON (code, stream, coupon, title, amounts,
//	                                               expiry), score the claim's time (µs); the newest
//	                                               MaxUserCoupons are kept
//	user:{user}:notify:<day>               hash    "sent" → notifications sent on day; "id:<n>:<sender>:<id>" → the
//	                                               decision of sender's notification id (n: the sender's length)
//	user:{user}:daily:<kind>:<day>         hash    "taken" → slots of kind taken on day (TakeDaily: shop awards'
//	                                               per_day); "id:<id>" → "1" for each id that took one; 48 h
//	user:{user}:streams                    zset    the streams user took part in or joined (privacy_redis.go): member
//	                                               the stream, score the last note (µs); the newest MaxUserStreams
//	user:{user}:erased                     string  "1": user was erased (EraseUser); every request of theirs is refused
//
// A timeline member is the item's Seq (16 hex digits), the length of its Key (8 hex digits), the Key, the
// length of its Type (8 hex digits), the Type and the Data. Members of equal score (OffsetMS) sort by their
// bytes, that is by Seq, so the sorted set is in (OffsetMS, Seq) order.
//
// Expiry: every key expires (store.go, "Lifetimes"). Every key of a stream expires RedisConfig.StreamTTL
// after the last write to it, except:
//   - the record stream:{id}, which expires Retention after it was created, after a write to it while live
//     (the one that ends it included) and after RenewStream (a join while live): an ended stream's record
//     lasts Retention after it ended, as long as its replay; an abandoned live one Retention after its last
//     join. Not StreamTTL while live: the record is written only when the host changes it, and losing it
//     would end a show that runs longer than StreamTTL without a change;
//   - the timeline keys, which outlive the stream for replays: Retention after their last write;
//   - the replay marks stream:{id}:score:replay-…:<user> (once per question, the paid replay answers):
//     Retention after their last write, so that they outlast the timeline they were made on;
//   - user-wide score state stream:{}:score:<kind>:<user> (the monthly tier warning): userStateTTL (40 days).
//
// A claimed code's index record expires StreamTTL after the claim and again after its redemption; a user's
// list of claimed codes StreamTTL after the user's last claim and again after the redemption of one of them
// (an entry is listed only while its code's record lives). A user's last stream expires StreamTTL after the user's last join, a notification hash notificationTTL
// (two days) after its last write, so that a decision made on a day is still there on the next
// (DecideNotification looks for an earlier decision of the id in the hashes of day and of the day before). A user's index of
// streams expires Retention after its last note, the erased mark ErasedMarkTTL after the erasure.
// No key lives without a TTL: storage is bounded by the traffic of the last Retention.
//
// Atomicity: read-modify-write of JSON values (UpdateStream, UpdateModeration, UpdateQuiz, UpdateDraw) is
// WATCH/MULTI with retries (optimistic); every checked write (votes, answers, claims, entries, upvotes,
// flags, creations, timeline appends, notification decisions) is one Lua script, so its check and its write
// are one step on the server; TimelineItems is a read-only script, so that a page is one consistent view.

// The checked writes run as Lua scripts, one file each under lua/ (embedded), so that a check and its write
// are one step on the server. A script may start with a shared library file (poll_reply.lua,
// question_lib.lua); luaScript joins the files in order.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// luaScript returns the script made of the named files of lua/, joined in order. A missing file is a
// programming error, found by every test that loads the package.
func luaScript(files ...string) *redis.Script {
	var src strings.Builder
	for _, f := range files {
		b, err := luaFiles.ReadFile("lua/" + f)
		if err != nil {
			panic("engagement: " + err.Error())
		}
		src.Write(b)
		src.WriteString("\n")
	}
	return redis.NewScript(src.String())
}

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix starts every key. "" → "kudos:".
	Prefix string
	// StreamTTL is how long the per-stream hot keys live after their last write. 0 → DefaultStreamTTL (48h).
	StreamTTL time.Duration
	// Retention is how long a stream's record lives after it was created, renewed by a join while live, or
	// ended, and how long its timeline and the replay marks live after their last write: how long an ended
	// stream can be replayed. 0 → DefaultRetention (30 days); never less than StreamTTL.
	Retention time.Duration
	// TextRetention is how long the personal text (name and text) of a replay's comments and of questions
	// is kept (text_retention.go). 0 → DefaultTextRetention (30 days).
	TextRetention time.Duration
	// CodeIndexKey keys the HMAC that names claimed coupon codes in the codes index (couponCodeKey): the
	// same on every node of a deployment and across restarts. nil → DevCodeIndexKey.
	CodeIndexKey []byte
	// Wait is how many replicas must hold a vote or a coupon claim before it is acknowledged (redisack);
	// fewer within its timeout is ErrUnavailable. The zero value waits for none.
	Wait redisack.Wait
}

// RedisStore is the Store shared by every node through one Redis server (or one cluster slot per stream).
type RedisStore struct {
	rdb       redis.UniversalClient
	prefix    string
	ttl       time.Duration // StreamTTL
	retention time.Duration
	codeKey   []byte // RedisConfig.CodeIndexKey
	wait      redisack.Wait
	// textRetention is RedisConfig.TextRetention with the default applied.
	textRetention time.Duration
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
	ttl, retention := lifetimes(cfg.StreamTTL, cfg.Retention)
	if len(cfg.CodeIndexKey) == 0 {
		cfg.CodeIndexKey = DevCodeIndexKey
	}
	return &RedisStore{rdb: rdb, prefix: cfg.Prefix, ttl: ttl, retention: retention, codeKey: cfg.CodeIndexKey,
		textRetention: textRetention(cfg.TextRetention), wait: cfg.Wait}
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

// itemKey is the key of item id of kind (poll, quiz, coupon, draw) on stream.
func (s *RedisStore) itemKey(stream, kind, id string) string {
	return s.streamSubKey(stream, kind+":"+id)
}

// validItemID reports whether id can name a key of its own (see the key layout above).
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
	return s.runScriptWait(ctx, op, redisack.Wait{}, sc, keys, args...)
}

// runScriptWait is runScript that, with w.Replicas > 0, reports the write done only once w.Replicas
// replicas hold it (redisack.Run); fewer is unavailable, the cause wrapping redisack.ErrNotReplicated.
func (s *RedisStore) runScriptWait(ctx context.Context, op string, w redisack.Wait, sc *redis.Script, keys []string, args ...any) (string, []string, error) {
	v, err := redisack.Run(ctx, s.rdb, w, sc, keys, args...).Result()
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

func setOf(members []string) map[string]bool {
	m := make(map[string]bool, len(members))
	for _, v := range members {
		m[v] = true
	}
	return m
}

// createItemScript stores a new item's hash and makes it current. KEYS: item hash, pointer (a string set to
// the id, or a list the id is pushed on). ARGV: id, ttl ms, "set" or "push", then the hash's field/values.
// Returns 0 if the item exists.
var createItemScript = luaScript("item_create.lua")

// createItem stores a new item of kind (a quiz, coupon or draw) as the hash key with fields, and points the
// stream's index at it: "set" makes it the current one (a pointer string), "push" appends it to a list. An id
// already in use is ErrDuplicate.
func (s *RedisStore) createItem(ctx context.Context, kind, stream, id, key, index, mode string, fields []any) error {
	args := append([]any{id, ttlMS(s.ttl), mode}, fields...)
	n, err := createItemScript.Run(ctx, s.rdb, []string{key, index}, args...).Int()
	if err != nil {
		return unavailable("create "+kind+" "+id+" on "+stream, err)
	}
	if n != 1 {
		return ErrDuplicate
	}
	return nil
}

// pointerID reads the id a pointer string holds, or ErrNotFound.
func (s *RedisStore) pointerID(ctx context.Context, op, key string) (string, error) {
	id, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", unavailable(op, err)
	}
	return id, nil
}

// updateItem is the read-modify-write of an item kept as a hash (a quiz, a draw), WATCH/MULTI with retries
// as UpdateStream: get reads it (inside the transaction), fn changes it (its error is returned unchanged),
// fields encodes what is written back; the hash's expiry is renewed.
func updateItem[T any](ctx context.Context, s *RedisStore, op, key string, get func(redis.Cmdable) (T, error), fn func(*T) error, fields func(T) ([]any, error)) (T, error) {
	var out T
	err := s.optimistic(ctx, op, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		v, err := get(tx)
		if err != nil {
			return nil, err
		}
		if err := fn(&v); err != nil {
			return nil, userError{err}
		}
		f, err := fields(v)
		if err != nil {
			return nil, err
		}
		out = v
		return func(p redis.Pipeliner) error {
			p.HSet(ctx, key, f...)
			p.PExpire(ctx, key, s.ttl)
			return nil
		}, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// currentItem returns the item a pointer string names (the stream's active quiz, its current draw), or
// ErrNotFound if there is none or it is gone.
func currentItem[T any](ctx context.Context, s *RedisStore, op, pointer string, get func(id string) (T, error)) (T, error) {
	var zero T
	id, err := s.pointerID(ctx, op, pointer)
	if err != nil {
		return zero, err
	}
	v, err := get(id)
	if errors.Is(err, ErrNotFound) {
		return zero, ErrNotFound
	}
	return v, err
}

// getJSON reads the JSON value at key (the stream record, the moderation settings, a score state); a missing
// key is the error missing, or the zero T when missing is nil.
func getJSON[T any](ctx context.Context, c redis.Cmdable, key, what string, missing error) (T, error) {
	var v T
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return v, missing
	}
	if err != nil {
		return v, unavailable("get "+what, err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// updateJSON is the read-modify-write of a JSON value, WATCH/MULTI with retries (optimistic): fn changes
// the value read by getJSON and says whether to write it (its error is returned unchanged); ttl gives the
// written value's expiry from the value as read. It returns the value as fn left it.
func updateJSON[T any](ctx context.Context, s *RedisStore, key, what string, missing error, fn func(*T) (bool, error), ttl func(before T) time.Duration) (T, error) {
	var out T
	err := s.optimistic(ctx, "update "+what, key, func(tx *redis.Tx) (func(redis.Pipeliner) error, error) {
		v, err := getJSON[T](ctx, tx, key, what, missing)
		if err != nil {
			return nil, err
		}
		before := v
		write, err := fn(&v)
		if err != nil {
			return nil, userError{err}
		}
		out = v
		if !write {
			return func(redis.Pipeliner) error { return nil }, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", what, err)
		}
		return func(p redis.Pipeliner) error { return p.Set(ctx, key, b, ttl(before)).Err() }, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
