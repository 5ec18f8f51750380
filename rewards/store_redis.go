package rewards

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/redisack"
)

// The layout of the keys is in store_redis_keys.go. The multi-step rules run as Lua scripts (rewards/lua),
// each on the keys of one hash slot, so each call is atomic on a single Redis and on a Redis Cluster alike.

//go:embed lua/*.lua
var luaFiles embed.FS

func luaScript(name string) *redis.Script {
	prelude, err := luaFiles.ReadFile("lua/prelude.lua")
	if err != nil {
		panic(err)
	}
	body, err := luaFiles.ReadFile("lua/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(prelude) + "\n" + string(body))
}

var (
	scriptAward    = luaScript("award.lua")
	scriptRefund   = luaScript("refund.lua")
	scriptRedeem   = luaScript("redeem.lua")
	scriptSnapshot = luaScript("snapshot.lua")
	// no prelude: these read no account
	scriptFulfil  = redis.NewScript(mustLua("lua/fulfil.lua"))
	scriptClaim   = redis.NewScript(mustLua("lua/claim.lua"))
	scriptReserve = redis.NewScript(mustLua("lua/reserve.lua"))
	scriptRelease = redis.NewScript(mustLua("lua/release.lua"))
	scriptBoard   = redis.NewScript(mustLua("lua/board.lua"))
	scriptIndex   = redis.NewScript(mustLua("lua/index.lua"))
)

// runStep runs the script of a step that comes before a user's script on a slot of its own (an award key's
// claim, a gift's claim index, a reward's hold and the index of holds). On one Redis the user's script's WAIT
// (RedisConfig.Wait) covers it, as every write before (redisack.Run); on a Redis Cluster the step is on
// another primary, whose replicas that WAIT does not count: it waits for them itself, so that a failover never
// loses a step whose user's script it let run.
func (s *RedisStore) runStep(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	if _, ok := s.rdb.(*redis.ClusterClient); ok {
		return redisack.Run(ctx, s.rdb, s.wait, sc, keys, args...)
	}
	return sc.Run(ctx, s.rdb, keys, args...)
}

func mustLua(name string) string {
	b, err := luaFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix starts every key. "" → "kudos:rw:".
	Prefix string
	// Wait is how many replicas must hold a write that moves points or a redemption (Award, Refund, Redeem,
	// Fulfil) before it is reported done; fewer within its timeout is an error wrapping
	// redisack.ErrNotReplicated (the write is on the primary and is idempotent when retried). The zero value
	// waits for none.
	Wait redisack.Wait
}

// RedisStore keeps the ledger in Redis so that several nodes share it.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	wait   redisack.Wait
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a RedisStore over rdb. The caller owns rdb and closes it. A prefix with '{' or '}'
// would change the keys' hash tags (store_redis_keys.go): it panics, as a programming error.
func NewRedisStore(rdb redis.UniversalClient, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "kudos:rw:"
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		panic(fmt.Sprintf("rewards: Redis key prefix %q contains '{' or '}'", cfg.Prefix))
	}
	return &RedisStore{rdb: rdb, prefix: cfg.Prefix, wait: cfg.Wait}
}

// luaPolicy is the Policy as the scripts read it.
type luaPolicy struct {
	Now          int64     `json:"now"`
	FirstMonth   string    `json:"first_month"`
	ExpireBefore int64     `json:"expire_before"`
	SettleBefore int64     `json:"settle_before"`
	Window       int64     `json:"window"`
	Cap          int64     `json:"cap"`
	Tiers        []luaTier `json:"tiers"`
	Basis        string    `json:"basis"`
	WarnBefore   int64     `json:"warn_before"` // Policy.warnHorizon (facts)
	WarnBy       int64     `json:"warn_by"`
}

type luaTier struct {
	Tier      Tier  `json:"t"`
	Threshold int64 `json:"th"`
	BP        int64 `json:"bp"`
}

func encodePolicy(p Policy) string {
	lp := luaPolicy{
		Now:          p.Now.UnixMilli(),
		FirstMonth:   p.FirstMonth,
		ExpireBefore: p.ExpireBefore.UnixMilli(),
		SettleBefore: p.SettleBefore.UnixMilli(),
		Window:       p.ReturnWindow.Milliseconds(),
		Cap:          p.MonthlyCap,
		Basis:        p.TierBasis,
	}
	warnBefore, warnBy := p.warnHorizon()
	lp.WarnBefore, lp.WarnBy = warnBefore.UnixMilli(), warnBy.UnixMilli()
	for _, t := range p.Tiers {
		lp.Tiers = append(lp.Tiers, luaTier{Tier: t.Tier, Threshold: t.Threshold, BP: t.multiplierBP()})
	}
	return mustJSON(lp)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and numbers are marshalled here
	}
	return string(b)
}

// awardRecord is the stored original result of an award.
type awardRecord struct {
	User    string `json:"user"`
	Stream  string `json:"s"`
	Pending bool   `json:"pend"`
	FP      string `json:"fp,omitempty"` // Award.Fingerprint
	Granted int64  `json:"granted"`
	Capped  int64  `json:"capped"`
	Balance int64  `json:"balance"`
	Tier    Tier   `json:"tier"`
	Prev    Tier   `json:"prev"`
	Changed bool   `json:"changed"`
	At      int64  `json:"at"`            // Unix ms; 0 in records written before it was kept
	Exp     int64  `json:"exp,omitempty"` // Unix ms, Policy.keepUntil; 0 in records written before it was kept
}

// Award implements Store in three steps. (1) The key is claimed for the user ({k:<key>}claim): award keys are
// one space across users, and the record lives in the user's shard. A key claimed by another user is answered
// from that user's record, as a replay or a conflict. (2) One script on the user's shard applies the award
// and writes its record, or finds the record and replays it. (3) A participation award's points are copied to
// the stream's leaderboard (pushBoard). A crash after (1) leaves a claim without a record: a retry goes on
// with (2); after (2) the board lags until the retry (a replay copies it again) or the user's next change on
// the stream. (1) and (2) wait for replicas (RedisConfig.Wait): on one primary the WAIT of (2) covers (1)
// written before it; on a cluster (1) is on another primary and waits itself (runStep).
func (s *RedisStore) Award(ctx context.Context, a Award, p Policy) (AwardResult, error) {
	exp, ttl := p.keepUntil(a).UnixMilli(), p.keepTTL(a).Milliseconds()
	owner, err := s.runStep(ctx, scriptClaim, []string{s.claimKey(a.Key)}, a.User, exp, ttl, p.Now.UnixMilli()).Text()
	if err != nil {
		return AwardResult{}, fmt.Errorf("redis claim award key: %w", err)
	}
	if owner != a.User {
		return s.replayOther(ctx, owner, a, p)
	}
	keys := append(s.userKeys(a.User), s.recordKey(a.User, a.Key), s.ukey(a.User, "bpts"))
	award := map[string]any{
		"key": a.Key, "user": a.User, "s": a.Stream, "src": a.Source, "p": a.Points,
		"part": a.Participation, "pend": a.Pending, "at": a.At.UnixMilli(), "month": p.monthOf(a.At), "fp": a.Fingerprint, "amt": a.Amount,
		"unc": a.Uncapped, "spent": a.spendFen(), "exp": exp, "ttl": ttl, "bexp": nil,
	}
	var reply []any
	var applied, raw string
	for {
		reply, err = redisack.Run(ctx, s.rdb, s.wait, scriptAward, s.tail(keys, a.User), encodePolicy(p), mustJSON(award), a.User).Slice()
		if err != nil {
			return AwardResult{}, fmt.Errorf("redis award script: %w", err)
		}
		if applied, raw, err = statusReply(reply); err != nil {
			return AwardResult{}, err
		}
		if applied != "board" || award["bexp"] != nil {
			break
		}
		// the user's points on some streams are past their exp: the script needs to know whether each board is
		// gone (then they are dropped) or lasts by other users' awards
		if award["bexp"], err = s.boardsUntil(ctx, raw); err != nil {
			return AwardResult{}, err
		}
	}
	if applied == "board" {
		return AwardResult{}, errors.New("redis award script: asked twice until when leaderboards last")
	}
	if applied == "conflict" {
		return AwardResult{}, ErrConflict
	}
	if err := s.pushBoard(ctx, a.Stream, a.User, reply, p); err != nil {
		return AwardResult{}, err
	}
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return AwardResult{}, fmt.Errorf("decode award record: %w", err)
	}
	return rec.result(applied == "1"), nil
}

func (rec awardRecord) result(applied bool) AwardResult {
	var at time.Time
	if rec.At > 0 {
		at = time.UnixMilli(rec.At).UTC()
	}
	return AwardResult{
		Applied:      applied,
		Granted:      rec.Granted,
		Capped:       rec.Capped,
		Balance:      rec.Balance,
		Tier:         rec.Tier,
		PreviousTier: rec.Prev,
		TierChanged:  rec.Changed,
		At:           at,
	}
}

// replayOther answers an award whose key belongs to another user, as the award script answers a replay:
// the original result, or ErrConflict when both fingerprints are set and differ. A claim whose record is not
// there (its award is in progress, or stopped after the claim) is ErrConflict: the key is taken.
func (s *RedisStore) replayOther(ctx context.Context, owner string, a Award, p Policy) (AwardResult, error) {
	rec, ok, err := s.record(ctx, owner, a.Key, p)
	if err != nil {
		return AwardResult{}, err
	}
	if !ok || (rec.FP != "" && a.Fingerprint != "" && rec.FP != a.Fingerprint) {
		return AwardResult{}, ErrConflict
	}
	return rec.result(false), nil
}

// record reads the award record of key in user's shard; false if there is none or it is past its exp by the
// ledger's clock (gone, whether or not Redis expired it yet).
func (s *RedisStore) record(ctx context.Context, user, key string, p Policy) (awardRecord, bool, error) {
	raw, err := s.rdb.Get(ctx, s.recordKey(user, key)).Result()
	if errors.Is(err, redis.Nil) {
		return awardRecord{}, false, nil
	}
	if err != nil {
		return awardRecord{}, false, fmt.Errorf("redis read award record: %w", err)
	}
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return awardRecord{}, false, fmt.Errorf("decode award record: %w", err)
	}
	return rec, rec.Exp == 0 || rec.Exp > p.Now.UnixMilli(), nil
}

// owner returns the user an award key is claimed by, or "" if none.
func (s *RedisStore) owner(ctx context.Context, key string) (string, error) {
	raw, err := s.rdb.Get(ctx, s.claimKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis read award claim: %w", err)
	}
	var c struct {
		U string `json:"u"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return "", fmt.Errorf("decode award claim: %w", err)
	}
	return c.U, nil
}

// boardsUntil returns until when the leaderboard of each stream of the JSON array streams lasts (Unix ms), 0
// for one that is gone: one pipeline of GETs (a cluster sends each to its node).
func (s *RedisStore) boardsUntil(ctx context.Context, streams string) (map[string]int64, error) {
	var names []string
	if err := json.Unmarshal([]byte(streams), &names); err != nil {
		return nil, fmt.Errorf("decode the streams of the award script: %w", err)
	}
	pipe := s.rdb.Pipeline()
	reads := make([]*redis.StringCmd, len(names))
	for i, st := range names {
		reads[i] = pipe.Get(ctx, s.boardExpKey(st))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis read until when the leaderboards last: %w", err)
	}
	out := make(map[string]int64, len(names))
	for i, st := range names {
		n, err := reads[i].Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("redis read until when the leaderboard of %s lasts: %w", st, err)
		}
		out[st] = n
	}
	return out, nil
}

// pushBoard copies a user's points on a stream (the third element of an award or refund script's reply, the
// user's bpts of the stream; "" when the call did not touch the board) to the stream's leaderboard.
func (s *RedisStore) pushBoard(ctx context.Context, stream, user string, reply []any, p Policy) error {
	if len(reply) < 3 || stream == "" {
		return nil
	}
	bp, _ := reply[2].(string)
	if bp == "" {
		return nil
	}
	keys := []string{s.boardKey(stream), s.boardVerKey(stream), s.boardExpKey(stream)}
	err := scriptBoard.Run(ctx, s.rdb, keys, user, bp, p.Now.UnixMilli()).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis copy to the leaderboard: %w", err)
	}
	return nil
}

// Recorded implements Store: a record past its exp by the ledger's clock is gone, as the award script
// judges it, whether or not Redis expired it yet.
func (s *RedisStore) Recorded(ctx context.Context, key string, p Policy) (bool, error) {
	owner, err := s.owner(ctx, key)
	if err != nil || owner == "" {
		return false, err
	}
	_, ok, err := s.record(ctx, owner, key, p)
	return ok, err
}

// statusReply reads the {status, payload} pair the scripts return.
func statusReply(reply []any) (status, payload string, err error) {
	if len(reply) < 2 {
		return "", "", fmt.Errorf("unexpected script reply %v", reply)
	}
	switch v := reply[0].(type) {
	case string:
		status = v
	case int64:
		status = strconv.FormatInt(v, 10)
	default:
		return "", "", fmt.Errorf("unexpected script status %T", reply[0])
	}
	payload, _ = reply[1].(string)
	return status, payload, nil
}

// Catalogue implements Store.
func (s *RedisStore) Catalogue(ctx context.Context) ([]Reward, bool, error) {
	raw, err := s.rdb.Get(ctx, s.prefix+"catalogue").Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis read catalogue: %w", err)
	}
	var rs []Reward
	if err := json.Unmarshal([]byte(raw), &rs); err != nil {
		return nil, false, fmt.Errorf("decode catalogue: %w", err)
	}
	if rs == nil {
		rs = []Reward{}
	}
	return rs, true, nil
}

// SetCatalogue implements Store.
func (s *RedisStore) SetCatalogue(ctx context.Context, rs []Reward) error {
	if rs == nil {
		rs = []Reward{}
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("encode catalogue: %w", err)
	}
	if err := s.rdb.Set(ctx, s.prefix+"catalogue", b, 0).Err(); err != nil {
		return fmt.Errorf("redis store catalogue: %w", err)
	}
	return nil
}

// Snapshot implements Store.
func (s *RedisStore) Snapshot(ctx context.Context, user string, p Policy) (Snapshot, error) {
	reply, err := scriptSnapshot.Run(ctx, s.rdb, s.tail(s.userKeys(user), user), encodePolicy(p), RecentEntries, user).Slice()
	if err != nil {
		return Snapshot{}, fmt.Errorf("redis snapshot script: %w", err)
	}
	if len(reply) != 3 {
		return Snapshot{}, fmt.Errorf("unexpected snapshot reply of %d parts", len(reply))
	}
	acct, earned := flatHash(reply[0]), flatHash(reply[1])
	snap := Snapshot{Tier: Tier(acct["tier"]), Earned: map[string]int64{}, Spent: map[string]int64{}}
	for field, dst := range map[string]*int64{"balance": &snap.Balance, "pending": &snap.Pending,
		"capped": &snap.Capped, "expired": &snap.Expired, "shortfall": &snap.Shortfall} {
		*dst, _ = strconv.ParseInt(acct[field], 10, 64)
	}
	for field, v := range earned { // "YYYY-MM" points granted, "YYYY-MM:spent" fen spent (prelude.lua)
		n, _ := strconv.ParseInt(v, 10, 64)
		if m, ok := strings.CutSuffix(field, ":spent"); ok {
			snap.Spent[m] = n
		} else if !strings.Contains(field, ":") {
			snap.Earned[field] = n
		}
	}
	lines, _ := reply[2].([]any)
	raw := make([]string, 0, len(lines))
	for _, l := range lines {
		str, _ := l.(string)
		raw = append(raw, str)
	}
	if snap.Recent, err = decodeEntries(raw); err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

func flatHash(v any) map[string]string {
	flat, _ := v.([]any)
	out := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		out[k] = val
	}
	return out
}

// luaEntry is an Entry as the scripts write it.
type luaEntry struct {
	At        int64     `json:"at"`
	Kind      EntryKind `json:"k"`
	Points    int64     `json:"p"`
	Balance   int64     `json:"b"`
	Key       string    `json:"key"`
	Stream    string    `json:"s"`
	Source    string    `json:"src"`
	Shortfall int64     `json:"sf"`
}

func decodeEntries(raw []string) ([]Entry, error) {
	out := make([]Entry, 0, len(raw))
	for _, r := range raw {
		var e luaEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode entry: %w", err)
		}
		out = append(out, Entry{At: time.UnixMilli(e.At).UTC(), Kind: e.Kind, Points: e.Points, Balance: e.Balance,
			Key: e.Key, Stream: e.Stream, Source: e.Source, Shortfall: e.Shortfall})
	}
	return out, nil
}

// Entries implements Store.
func (s *RedisStore) Entries(ctx context.Context, user string, n int) ([]Entry, error) {
	start := int64(0)
	if n > 0 {
		start = int64(-n)
	}
	raw, err := s.rdb.LRange(ctx, s.ukey(user, "entries"), start, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read entries: %w", err)
	}
	return decodeEntries(raw)
}

// Leaderboard implements Store. Users tied with the n-th are all read, so the cut at n is by user id,
// as in every Store.
func (s *RedisStore) Leaderboard(ctx context.Context, stream string, n int) ([]Standing, error) {
	key := s.boardKey(stream)
	top, err := s.rdb.ZRevRangeWithScores(ctx, key, 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read leaderboard: %w", err)
	}
	if len(top) == n && n > 0 {
		last := strconv.FormatFloat(top[n-1].Score, 'f', -1, 64)
		tied, err := s.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Min: last, Max: last}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis read leaderboard ties: %w", err)
		}
		seen := make(map[string]bool, len(top))
		for _, z := range top {
			seen[z.Member.(string)] = true
		}
		for _, z := range tied {
			if !seen[z.Member.(string)] {
				top = append(top, z)
			}
		}
	}
	st := make([]Standing, 0, len(top))
	for _, z := range top {
		member, _ := z.Member.(string)
		st = append(st, Standing{User: member, Points: int64(z.Score)})
	}
	st = rankStandings(st)
	if len(st) > n {
		st = st[:n]
	}
	return st, nil
}
