package rewards

import (
	"hash/fnv"
	"strconv"
)

// Redis layout (layout 2, cluster-ready), every key under RedisConfig.Prefix (default "kudos:rw:"). A Redis
// Cluster runs a script only when all its keys lie in one hash slot, and hashes only the text between the
// first '{' and the next '}' of a key (its hash tag) when there is one. So every key starts with a tag, and
// the keys that one script touches share it:
//
//   - A user's keys are tagged with the user's ledger shard {uN} (N = FNV-1a of the user id modulo
//     LedgerShards), and so are the shard's due indexes and outbox: one award, refund or redemption is one
//     script on one slot, as atomic as on a single Redis, due indexes and outbox included.
//   - Keys of a stream, a reward, an award key or a gift claim are tagged with it ({b:<stream>},
//     {r:<reward>}, {k:<award key>}, {g:<claim id>}) and written in their own step, before (an index) or
//     after (a leaderboard) the user's script, so that a crash between the two never loses a point: see
//     each method.
//
// The kind follows the tag and the id comes last, so ids may contain any character ('{' and '}' too: the tag
// is always read up to the first '}' of the same text for every key of an id, and the kind, which has no
// '}', ends the tag) without two keys colliding. The prefix must not contain '{' or '}' (NewRedisStore).
//
//	{uN}acct:<user>        hash    balance, pending, tier, capped, expired, shortfall, fseq, bseq (the last
//	                               version given to the user's bpts)
//	{uN}earned:<user>      hash    "YYYY-MM" → points granted that month (the trailing twelve are kept); with
//	                               them "YYYY-MM:spent" → fen spent, "YYYY-MM:uncapped" → points outside the cap
//	{uN}lots:<user>        zset    award/order key scored by when its points were earned (expiry, FIFO spend)
//	{uN}lotamt:<user>      hash    award/order key → points of that lot not yet spent or expired
//	{uN}orders:<user>      hash    order key → {p, g, amt, at, m, s, st, b, rf, parts} of a purchase
//	{uN}pend:<user>        zset    order keys still pending, scored by purchase time
//	{uN}entries:<user>     list    the append-only ledger, JSON entries, oldest first
//	{uN}out:<user>         list    facts not yet acknowledged (facts.go), JSON, oldest first, numbered by fseq
//	{uN}unwarned:<user>    zset    lot keys not yet announced as expiring, scored as in lots
//	{uN}rcount:<user>      hash    reward id → units the user redeemed (Reward.PerUserLimit)
//	{uN}redeem:<user>      hash    request id → the original redemption (with its code, claim and fulfilment)
//	{uN}bpts:<user>        hash    stream → {t, v, exp}: the user's participation points on the stream's
//	                               leaderboard, a version (from acct bseq), and until when their last award on
//	                               it keeps the board
//	{uN}award:<key>        string  the original result of an award of a user of the shard (idempotency), with
//	                               its user, fingerprint and exp (Unix ms, Policy.keepUntil); expires then
//	{uN}due:settle, {uN}due:expire, {uN}due:warn
//	                       zset    user → the earliest pending order, lot, unannounced lot (Unix ms): what
//	                               Sweep looks at; an entry may be early (the sweep then only updates it)
//	{uN}due:roll           zset    user → the oldest month counted, as YYYYMM
//	{uN}outbox             zset    users with facts not yet acknowledged, scored by when the first was recorded
//	{k:<key>}claim         string  {u, exp}: which user an award key belongs to (the key space is global, the
//	                               record is in the user's shard); it expires with the record
//	{b:<stream>}board      zset    user → participation points granted in the stream (a copy of bpts)
//	{b:<stream>}bver       hash    user → the bpts version the board holds (a late copy never overwrites a newer)
//	{b:<stream>}bexp       string  until when the board lasts (Unix ms): past it by the ledger's clock, the
//	                               board is gone and a user's next award on the stream counts from nothing
//	{r:<reward>}sold       string  units of the reward redeemed or held by a redemption in progress
//	{r:<reward>}resv       hash    "<user>\x00<request id>" → "<Unix ms> <calls>" of a unit held by a
//	                               redemption in progress (calls: how many calls with that request id share
//	                               it; the last one refused frees it), or "done" once it was made (a retry
//	                               then holds no other unit); at most the stock's units are "done"
//	{r:<reward>}busy       string  how many holds are in progress (not yet kept or released)
//	{r:<reward>}legacy     string  units left as stores before sold kept them (read once into sold)
//	{held}held             zset    JSON {r, u, q} of every hold, by time: what Sweep resolves if its
//	                               redemption never came back (a crash between the hold and the debit)
//	{g:<claim id>}gift     string  a gift's claim id → {user, req} of its redemption
//	catalogue              string  the catalogue as JSON, once SetCatalogue stored one (else Config.Catalogue)
//	layout                 string  "2": the layout of these keys (store_redis_migrate.go)
//
// Expiry: {uN}award:<key> and {k:<key>}claim live until the end of the month after the award's month, an
// order's for ExpiryMonths (12) after it, each plus recordSlack (a day); a record found past its exp, by the
// ledger's clock, counts as gone, so that the rule does not depend on when Redis gets to it. A stream's board,
// bver and bexp live as long as the record of its last participation award (and count as gone past it by the
// ledger's clock); bpts fields past their exp are dropped by the user's next participation award. The rest is bounded by the number of users, rewards and
// redemptions, and kept (see Store).

// LedgerShards is how many shards the ledger's users are spread over: the unit of a Redis Cluster slot for
// the ledger, and of the sweep's indexes. Changing it moves every user: it is part of the layout.
const LedgerShards = 256

// ledgerLayout is the value of the layout key of a store whose keys are laid out as above.
const ledgerLayout = "2"

// shardOf returns the ledger shard of user.
func shardOf(user string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return int(h.Sum32() % LedgerShards)
}

func (s *RedisStore) shardTag(shard int) string {
	return s.prefix + "{u" + strconv.Itoa(shard) + "}"
}

// ukey is a key of user's: its shard tag, kind, ':' and the user.
func (s *RedisStore) ukey(user, kind string) string {
	return s.shardTag(shardOf(user)) + kind + ":" + user
}

// skey is a key of a shard's own (a due index, the outbox).
func (s *RedisStore) skey(shard int, kind string) string { return s.shardTag(shard) + kind }

// recordKey is the award record of key, in the shard of the user it belongs to.
func (s *RedisStore) recordKey(user, key string) string {
	return s.shardTag(shardOf(user)) + "award:" + key
}

func (s *RedisStore) claimKey(key string) string       { return s.prefix + "{k:" + key + "}claim" }
func (s *RedisStore) boardKey(stream string) string    { return s.prefix + "{b:" + stream + "}board" }
func (s *RedisStore) boardVerKey(stream string) string { return s.prefix + "{b:" + stream + "}bver" }
func (s *RedisStore) boardExpKey(stream string) string { return s.prefix + "{b:" + stream + "}bexp" }
func (s *RedisStore) soldKey(reward string) string     { return s.prefix + "{r:" + reward + "}sold" }
func (s *RedisStore) resvKey(reward string) string     { return s.prefix + "{r:" + reward + "}resv" }
func (s *RedisStore) busyKey(reward string) string     { return s.prefix + "{r:" + reward + "}busy" }
func (s *RedisStore) legacyStockKey(reward string) string {
	return s.prefix + "{r:" + reward + "}legacy"
}
func (s *RedisStore) heldKey() string               { return s.prefix + "{held}held" }
func (s *RedisStore) giftKey(claimID string) string { return s.prefix + "{g:" + claimID + "}gift" }
func (s *RedisStore) layoutKey() string             { return s.prefix + "layout" }

// userKeys are the KEYS[1..7] of every script with the prelude (prelude.lua).
func (s *RedisStore) userKeys(user string) []string {
	keys := make([]string, 0, 16)
	for _, kind := range []string{"acct", "earned", "lots", "lotamt", "orders", "pend", "entries"} {
		keys = append(keys, s.ukey(user, kind))
	}
	return keys
}

// tail appends the keys every script with the prelude takes last (prelude.lua): the user's outbox and
// unannounced lots, the shard's due indexes and its set of users with an outbox.
func (s *RedisStore) tail(keys []string, user string) []string {
	sh := shardOf(user)
	return append(keys, s.ukey(user, "out"), s.ukey(user, "unwarned"), s.skey(sh, "due:settle"), s.skey(sh, "due:expire"),
		s.skey(sh, "due:warn"), s.skey(sh, "due:roll"), s.skey(sh, "outbox"))
}
