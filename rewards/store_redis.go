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
)

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
// the stream. Only (2) waits for replicas (RedisConfig.Wait): on one primary, a replica holding (2) holds the
// claim written before it; on a cluster the claim is on another primary (docs/scaling.md).
func (s *RedisStore) Award(ctx context.Context, a Award, p Policy) (AwardResult, error) {
	exp, ttl := p.keepUntil(a).UnixMilli(), p.keepTTL(a).Milliseconds()
	owner, err := scriptClaim.Run(ctx, s.rdb, []string{s.claimKey(a.Key)}, a.User, exp, ttl, p.Now.UnixMilli()).Text()
	if err != nil {
		return AwardResult{}, fmt.Errorf("redis claim award key: %w", err)
	}
	if owner != a.User {
		return s.replayOther(ctx, owner, a, p)
	}
	keys := append(s.userKeys(a.User), s.recordKey(a.User, a.Key), s.ukey(a.User, "bpts"))
	arg := mustJSON(map[string]any{
		"key": a.Key, "user": a.User, "s": a.Stream, "src": a.Source, "p": a.Points,
		"part": a.Participation, "pend": a.Pending, "at": a.At.UnixMilli(), "month": p.monthOf(a.At), "fp": a.Fingerprint, "amt": a.Amount,
		"unc": a.Uncapped, "spent": a.spendFen(), "exp": exp, "ttl": ttl,
	})
	reply, err := redisack.Run(ctx, s.rdb, s.wait, scriptAward, s.tail(keys, a.User), encodePolicy(p), arg, a.User).Slice()
	if err != nil {
		return AwardResult{}, fmt.Errorf("redis award script: %w", err)
	}
	applied, raw, err := statusReply(reply)
	if err != nil {
		return AwardResult{}, err
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
	err := scriptBoard.Run(ctx, s.rdb, []string{s.boardKey(stream), s.boardVerKey(stream)}, user, bp, p.Now.UnixMilli()).Err()
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

// Redeem implements Store. A limited reward's unit is held first ({r:<id>}: reserve.lua), then one script on
// the user's shard debits the points; the hold is then kept (the unit is sold) or released (the redemption was
// refused). A gift's claim index is written before the debit (Fulfil checks that the redemption it finds
// has that claim). A crash between the hold and its end leaves the hold in {held}held, where Sweep resolves
// it (resolveHolds): stock is never oversold, and a unit held by a lost call comes back.
func (s *RedisStore) Redeem(ctx context.Context, req RedeemRequest, r Reward, p Policy) (Redemption, error) {
	user := req.User
	hold := user + "\x00" + req.RequestID
	held := false
	if r.Stock > 0 {
		member := mustJSON(map[string]string{"r": r.ID, "u": user, "q": req.RequestID})
		if err := s.rdb.ZAdd(ctx, s.heldKey(), redis.Z{Score: float64(p.Now.UnixMilli()), Member: member}).Err(); err != nil {
			return Redemption{}, fmt.Errorf("redis index a hold: %w", err)
		}
		st, err := s.hold(ctx, r, hold, p)
		if err != nil {
			return Redemption{}, err
		}
		if st == "out_of_stock" {
			return s.outOfStock(ctx, req, r)
		}
		held = true
	}
	if req.ClaimID != "" {
		if err := s.rdb.Set(ctx, s.giftKey(req.ClaimID), mustJSON(map[string]string{"user": user, "req": req.RequestID}), 0).Err(); err != nil {
			return Redemption{}, fmt.Errorf("redis index a gift claim: %w", err)
		}
	}
	keys := append(s.userKeys(user), s.ukey(user, "redeem"), s.ukey(user, "rcount"))
	arg := mustJSON(map[string]any{"user": user, "reward": r.ID, "req": req.RequestID, "cost": r.Cost,
		"limit": r.PerUserLimit, "kind": r.Kind, "dfen": r.DiscountFen, "mfen": r.MinSpendFen, "code": req.Code, "claim": req.ClaimID})
	reply, err := redisack.Run(ctx, s.rdb, s.wait, scriptRedeem, s.tail(keys, user), encodePolicy(p), arg, user).Slice()
	if err != nil {
		return Redemption{}, fmt.Errorf("redis redeem script: %w", err)
	}
	status, payload, err := statusReply(reply)
	if err != nil {
		return Redemption{}, err
	}
	if held {
		// The unit stays sold when the redemption was made (now, or by an earlier call with the same hold).
		keep := status == "ok" || status == "replay"
		if err := s.endHold(ctx, r.ID, hold, keep); err != nil {
			return Redemption{}, err
		}
	}
	switch status {
	case "duplicate":
		return Redemption{}, ErrDuplicate
	case "limit":
		return Redemption{}, ErrLimitReached
	case "insufficient":
		return Redemption{}, ErrInsufficientPoints
	}
	red, err := decodeRedemption(payload)
	red.Replayed = status == "replay"
	return red, err
}

// holdAttempts bounds how often a redemption asks for a unit while every unit is sold or held by
// redemptions in progress (one may be refused and release its unit); holdBackoff is the first pause between
// two asks, growing by itself each time (about 2 s in all).
const (
	holdAttempts = 40
	holdBackoff  = 2 * time.Millisecond
)

// hold holds a unit of r for the hold (reserve.lua): "ok", "held" (a retry's) or "out_of_stock". While the
// units are all sold or held and some holds are in progress it asks again, so that a redemption is refused
// for stock only when every unit is sold, as if the redemptions had run one after another.
func (s *RedisStore) hold(ctx context.Context, r Reward, hold string, p Policy) (string, error) {
	keys := []string{s.soldKey(r.ID), s.resvKey(r.ID), s.legacyStockKey(r.ID), s.busyKey(r.ID)}
	for i := range holdAttempts {
		st, err := scriptReserve.Run(ctx, s.rdb, keys, hold, r.Stock, p.Now.UnixMilli()).Text()
		if err != nil {
			return "", fmt.Errorf("redis hold a unit: %w", err)
		}
		if st != "busy" {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Duration(i+1) * holdBackoff):
		}
	}
	return "out_of_stock", nil
}

// outOfStock answers a redemption that found no unit to hold as the user's script would, which judges a
// replay, then the per-user limit, before stock: the redemption replayed (one made before holds existed:
// later ones find their own hold), ErrDuplicate for a request id used for another reward, ErrLimitReached,
// else ErrOutOfStock.
func (s *RedisStore) outOfStock(ctx context.Context, req RedeemRequest, r Reward) (Redemption, error) {
	red, found, err := s.redemption(ctx, req.User, req.RequestID)
	switch {
	case err != nil:
		return Redemption{}, err
	case found && red.RewardID != r.ID:
		return Redemption{}, ErrDuplicate
	case found:
		red.Replayed = true
		return red, nil
	}
	if r.PerUserLimit > 0 {
		n, err := s.rdb.HGet(ctx, s.ukey(req.User, "rcount"), r.ID).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Redemption{}, fmt.Errorf("redis read units redeemed: %w", err)
		}
		if n >= r.PerUserLimit {
			return Redemption{}, ErrLimitReached
		}
	}
	return Redemption{}, ErrOutOfStock
}

// endHold keeps (the unit is sold) or releases a hold (release.lua), then drops it from the index of holds.
func (s *RedisStore) endHold(ctx context.Context, reward, hold string, keep bool) error {
	how := "release"
	if keep {
		how = "keep"
	}
	err := scriptRelease.Run(ctx, s.rdb, []string{s.soldKey(reward), s.resvKey(reward), s.busyKey(reward)}, hold, how).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis end a hold: %w", err)
	}
	user, req, _ := strings.Cut(hold, "\x00")
	member := mustJSON(map[string]string{"r": reward, "u": user, "q": req})
	if err := s.rdb.ZRem(ctx, s.heldKey(), member).Err(); err != nil {
		return fmt.Errorf("redis drop a hold from its index: %w", err)
	}
	return nil
}

// redemption reads the user's redemption of request id req.
func (s *RedisStore) redemption(ctx context.Context, user, req string) (Redemption, bool, error) {
	raw, err := s.rdb.HGet(ctx, s.ukey(user, "redeem"), req).Result()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, false, nil
	}
	if err != nil {
		return Redemption{}, false, fmt.Errorf("redis read a redemption: %w", err)
	}
	red, err := decodeRedemption(raw)
	return red, err == nil, err
}

// decodeRedemption reads a redemption as the scripts store it.
func decodeRedemption(payload string) (Redemption, error) {
	var w struct {
		ID      string `json:"id"`
		User    string `json:"user"`
		Reward  string `json:"reward"`
		Cost    int64  `json:"cost"`
		At      int64  `json:"at"`
		Balance int64  `json:"balance"`
		Kind    string `json:"kind"`
		DFen    int64  `json:"dfen"`
		MFen    int64  `json:"mfen"`
		Code    string `json:"code"`
		Claim   string `json:"claim"`
		Ful     int64  `json:"ful"`
	}
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return Redemption{}, fmt.Errorf("decode redemption: %w", err)
	}
	red := Redemption{ID: w.ID, User: w.User, RewardID: w.Reward, Cost: w.Cost, At: time.UnixMilli(w.At).UTC(),
		Balance: w.Balance, Kind: w.Kind, DiscountFen: w.DFen, MinSpendFen: w.MFen, Code: w.Code, ClaimID: w.Claim}
	if w.Ful > 0 {
		at := time.UnixMilli(w.Ful).UTC()
		red.FulfilledAt = &at
	}
	return red, nil
}

// Fulfil implements Store: the claim's redemption is found by one GET of its index, then marked by one script
// if it has that claim.
func (s *RedisStore) Fulfil(ctx context.Context, claimID string, p Policy) (Redemption, error) {
	raw, err := s.rdb.Get(ctx, s.giftKey(claimID)).Result()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, ErrNotFound
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("redis read claim: %w", err)
	}
	var c struct {
		User string `json:"user"`
		Req  string `json:"req"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return Redemption{}, fmt.Errorf("decode claim: %w", err)
	}
	rec, err := redisack.Run(ctx, s.rdb, s.wait, scriptFulfil, []string{s.ukey(c.User, "redeem")}, c.Req, p.Now.UnixMilli(), claimID).Text()
	if errors.Is(err, redis.Nil) {
		return Redemption{}, ErrNotFound
	}
	if err != nil {
		return Redemption{}, fmt.Errorf("redis fulfil script: %w", err)
	}
	return decodeRedemption(rec)
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

// Remaining implements Store with one pipeline of GETs (the units sold of each reward, and the legacy
// counters): the keys lie in several slots, which a cluster pipeline sends to their nodes.
func (s *RedisStore) Remaining(ctx context.Context, rs []Reward) (map[string]int64, error) {
	var limited []Reward
	pipe := s.rdb.Pipeline()
	var sold, legacy []*redis.StringCmd
	for _, r := range rs {
		if r.Stock > 0 {
			limited = append(limited, r)
			sold = append(sold, pipe.Get(ctx, s.soldKey(r.ID)))
			legacy = append(legacy, pipe.Get(ctx, s.legacyStockKey(r.ID)))
		}
	}
	out := map[string]int64{}
	if len(limited) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read reward stock: %w", err)
	}
	for i, r := range limited {
		out[r.ID] = r.Stock
		if n, err := sold[i].Int64(); err == nil {
			out[r.ID] = max(0, r.Stock-n)
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reward %s sold: %w", r.ID, err)
		} else if n, err := legacy[i].Int64(); err == nil { // a store from before sold
			out[r.ID] = max(0, min(n, r.Stock))
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reward %s stock: %w", r.ID, err)
		}
	}
	return out, nil
}

// Redemptions implements Store: one HVALS of the user's redemptions.
func (s *RedisStore) Redemptions(ctx context.Context, user string) ([]Redemption, error) {
	raw, err := s.rdb.HVals(ctx, s.ukey(user, "redeem")).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read redemptions: %w", err)
	}
	out := make([]Redemption, 0, len(raw))
	for _, r := range raw {
		red, err := decodeRedemption(r)
		if err != nil {
			return nil, err
		}
		out = append(out, red)
	}
	sortRedemptions(out)
	return out, nil
}
