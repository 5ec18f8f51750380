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

// Redis layout, every key under RedisConfig.Prefix (default "kudos:rw:"). The type comes before the id,
// so ids may contain any character without two keys colliding.
//
//	acct:<user>          hash    balance, pending, tier, capped, expired, shortfall
//	earned:<user>        hash    "YYYY-MM" → points granted that month (the trailing twelve are kept); with
//	                             them "YYYY-MM:spent" → fen spent, "YYYY-MM:uncapped" → points outside the cap
//	lots:<user>          zset    award/order key scored by when its points were earned (expiry, FIFO spend)
//	lotamt:<user>        hash    award/order key → points of that lot not yet spent or expired
//	orders:<user>        hash    order key → {p, at, m, s, st, b} of a purchase (st: pending|settled|refunded;
//	                             b: on the leaderboard, absent in orders written before it existed)
//	pend:<user>          zset    order keys still pending, scored by purchase time
//	entries:<user>       list    the append-only ledger, JSON entries, oldest first
//	award:<key>          string  the original result of an award (idempotency), with its user, fingerprint and
//	                             exp (Unix ms, Policy.keepUntil); it expires then (PX from the ledger's now)
//	board:<stream>       zset    user → participation points granted in the stream; it expires with the
//	                             record of the stream's last participation award
//	stock:<reward>       string  legacy: units left, as stores before sold kept them (read once into sold)
//	sold                 hash    reward id → units redeemed in all (units left: the reward's Stock − sold)
//	rcount:<user>        hash    reward id → units the user redeemed (Reward.PerUserLimit)
//	redeem:<user>        hash    request id → the original redemption (with its code, claim and fulfilment)
//	claim:<id>           string  a gift's claim id → {user, req} of its redemption
//	catalogue            string  the catalogue as JSON, once SetCatalogue stored one (else Config.Catalogue)
//	out:<user>           list    facts not yet acknowledged (rewards/facts.go), JSON, oldest first; acct's
//	                             fseq numbers them
//	unwarned:<user>      zset    lot keys not yet announced as expiring, scored as in lots
//	due:settle, due:expire, due:warn
//	                     zset    user → the earliest pending order, lot, unannounced lot (Unix ms): what
//	                             Sweep looks at; an entry may be early (the sweep then only updates it)
//	due:roll             zset    user → the oldest month counted, as YYYYMM
//	outbox               zset    users with facts not yet acknowledged, scored by when the first was recorded
//	due:backlog, due:scan, due:scanned
//	                     list, string, string: accounts from before the due indexes, queued for the sweep by
//	                     one SCAN pass (its cursor; done once due:scanned is set)
//
// Expiry: award:<key> lives until the end of the month after its award's month, an order's for ExpiryMonths
// (12) after it, each plus recordSlack (a day); a record found past its exp, by the ledger's clock, counts as
// gone, so that the rule does not depend on when Redis gets to it. board:<stream> lives as long as the last
// record that added to it. The rest is bounded by the number of users and rewards, and kept: the user's
// account (acct, earned: the trailing twelve months; lots, lotamt: points not yet expired; orders: the
// last ExpiryMonths of orders, older settled ones are dropped when the user's next order is recorded; pend:
// the return window; entries: the ledger, append-only; redeem: one field per redemption, at most the points
// earned allow; rcount: one field per reward redeemed), sold, claim:<id> (one per gift redeemed, at most the
// points earned allow) and the catalogue.
//
// The multi-step rules run as Lua scripts (rewards/lua), so each call is atomic on one Redis server.
// Keys of one call span several ids, so the store needs a single Redis (or one cluster slot), not a cluster.

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
	scriptFulfil   = redis.NewScript(mustLua("lua/fulfil.lua")) // no prelude: it reads no account
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

// NewRedisStore returns a RedisStore over rdb. The caller owns rdb and closes it.
func NewRedisStore(rdb redis.UniversalClient, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "kudos:rw:"
	}
	return &RedisStore{rdb: rdb, prefix: cfg.Prefix, wait: cfg.Wait}
}

func (s *RedisStore) userKeys(user string) []string {
	keys := make([]string, 0, 9)
	for _, kind := range []string{"acct:", "earned:", "lots:", "lotamt:", "orders:", "pend:", "entries:"} {
		keys = append(keys, s.prefix+kind+user)
	}
	return keys
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

// Award implements Store.
func (s *RedisStore) Award(ctx context.Context, a Award, p Policy) (AwardResult, error) {
	keys := append(s.userKeys(a.User), s.prefix+"award:"+a.Key, s.prefix+"board:"+a.Stream)
	arg := mustJSON(map[string]any{
		"key": a.Key, "user": a.User, "s": a.Stream, "src": a.Source, "p": a.Points,
		"part": a.Participation, "pend": a.Pending, "at": a.At.UnixMilli(), "month": p.monthOf(a.At), "fp": a.Fingerprint, "amt": a.Amount,
		"unc": a.Uncapped, "spent": a.spendFen(),
		"exp": p.keepUntil(a).UnixMilli(), "ttl": p.keepTTL(a).Milliseconds(),
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
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return AwardResult{}, fmt.Errorf("decode award record: %w", err)
	}
	var at time.Time
	if rec.At > 0 {
		at = time.UnixMilli(rec.At).UTC()
	}
	return AwardResult{
		Applied:      applied == "1",
		Granted:      rec.Granted,
		Capped:       rec.Capped,
		Balance:      rec.Balance,
		Tier:         rec.Tier,
		PreviousTier: rec.Prev,
		TierChanged:  rec.Changed,
		At:           at,
	}, nil
}

// Recorded implements Store: a record past its exp by the ledger's clock is gone, as the award script
// judges it, whether or not Redis expired it yet.
func (s *RedisStore) Recorded(ctx context.Context, key string, p Policy) (bool, error) {
	raw, err := s.rdb.Get(ctx, s.prefix+"award:"+key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis read award record: %w", err)
	}
	var rec awardRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return false, fmt.Errorf("decode award record: %w", err)
	}
	return rec.Exp == 0 || rec.Exp > p.Now.UnixMilli(), nil
}

// statusReply reads the {status, payload} pair the scripts return.
func statusReply(reply []any) (status, payload string, err error) {
	if len(reply) != 2 {
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

// Redeem implements Store.
func (s *RedisStore) Redeem(ctx context.Context, req RedeemRequest, r Reward, p Policy) (Redemption, error) {
	user := req.User
	claimKey := s.prefix + "claim:" + req.ClaimID
	keys := append(s.userKeys(user), s.prefix+"redeem:"+user, s.prefix+"stock:"+r.ID, s.prefix+"sold", s.prefix+"rcount:"+user, claimKey)
	arg := mustJSON(map[string]any{"user": user, "reward": r.ID, "req": req.RequestID, "cost": r.Cost, "stock": r.Stock,
		"limit": r.PerUserLimit, "kind": r.Kind, "dfen": r.DiscountFen, "mfen": r.MinSpendFen, "code": req.Code, "claim": req.ClaimID})
	reply, err := redisack.Run(ctx, s.rdb, s.wait, scriptRedeem, s.tail(keys, user), encodePolicy(p), arg, user).Slice()
	if err != nil {
		return Redemption{}, fmt.Errorf("redis redeem script: %w", err)
	}
	status, payload, err := statusReply(reply)
	if err != nil {
		return Redemption{}, err
	}
	switch status {
	case "duplicate":
		return Redemption{}, ErrDuplicate
	case "limit":
		return Redemption{}, ErrLimitReached
	case "out_of_stock":
		return Redemption{}, ErrOutOfStock
	case "insufficient":
		return Redemption{}, ErrInsufficientPoints
	}
	red, err := decodeRedemption(payload)
	red.Replayed = status == "replay"
	return red, err
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

// Fulfil implements Store: the claim's redemption is found by one GET, then marked by one script.
func (s *RedisStore) Fulfil(ctx context.Context, claimID string, p Policy) (Redemption, error) {
	raw, err := s.rdb.Get(ctx, s.prefix+"claim:"+claimID).Result()
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
	rec, err := redisack.Run(ctx, s.rdb, s.wait, scriptFulfil, []string{s.prefix + "redeem:" + c.User}, c.Req, p.Now.UnixMilli()).Text()
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
	raw, err := s.rdb.LRange(ctx, s.prefix+"entries:"+user, start, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read entries: %w", err)
	}
	return decodeEntries(raw)
}

// Leaderboard implements Store. Users tied with the n-th are all read, so the cut at n is by user id,
// as in every Store.
func (s *RedisStore) Leaderboard(ctx context.Context, stream string, n int) ([]Standing, error) {
	key := s.prefix + "board:" + stream
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

// Remaining implements Store with one HMGET of sold and one MGET of the legacy counters.
func (s *RedisStore) Remaining(ctx context.Context, rs []Reward) (map[string]int64, error) {
	var limited []Reward
	var ids, legacy []string
	for _, r := range rs {
		if r.Stock > 0 {
			limited = append(limited, r)
			ids = append(ids, r.ID)
			legacy = append(legacy, s.prefix+"stock:"+r.ID)
		}
	}
	out := map[string]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	sold, err := s.rdb.HMGet(ctx, s.prefix+"sold", ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("read reward stock: %w", err)
	}
	left, err := s.rdb.MGet(ctx, legacy...).Result()
	if err != nil {
		return nil, fmt.Errorf("read reward stock: %w", err)
	}
	for i, r := range limited {
		out[r.ID] = r.Stock
		v, ok := sold[i].(string)
		if ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reward %s sold %q: %w", r.ID, v, err)
			}
			out[r.ID] = max(0, r.Stock-n)
		} else if v, ok := left[i].(string); ok { // a store from before sold
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reward %s stock %q: %w", r.ID, v, err)
			}
			out[r.ID] = max(0, min(n, r.Stock))
		}
	}
	return out, nil
}

// Redemptions implements Store: one HVALS of the user's redemptions.
func (s *RedisStore) Redemptions(ctx context.Context, user string) ([]Redemption, error) {
	raw, err := s.rdb.HVals(ctx, s.prefix+"redeem:"+user).Result()
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
