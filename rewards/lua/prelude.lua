-- Shared by every ledger script. KEYS[1..7] are the user's keys, ARGV[1] the Policy as JSON. The last seven
-- KEYS are the facts' (RedisStore.tail): the user's outbox and unannounced lots, the four due indexes and the
-- set of users with an outbox; the last ARGV is the user id.
-- All times are Unix milliseconds; months are "YYYY-MM" strings, which compare in order.
local P = cjson.decode(ARGV[1])
local K_ACCT, K_EARNED, K_LOTS, K_LOTAMT, K_ORDERS, K_PEND, K_ENTRIES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local TAIL = #KEYS - 7
local K_OUT, K_UNWARNED, K_DUE_SETTLE, K_DUE_EXPIRE, K_DUE_WARN, K_DUE_ROLL, K_OUTBOX =
  KEYS[TAIL + 1], KEYS[TAIL + 2], KEYS[TAIL + 3], KEYS[TAIL + 4], KEYS[TAIL + 5], KEYS[TAIL + 6], KEYS[TAIL + 7]
local USER = ARGV[#ARGV]

local function int(x) return string.format('%d', x) end
local function num(v) return tonumber(v) or 0 end
local function acct(field) return num(redis.call('HGET', K_ACCT, field)) end

-- record a fact (rewards/facts.go) in the user's outbox, numbered, with the balance after it
local function fact(f)
  f.seq = redis.call('HINCRBY', K_ACCT, 'fseq', 1)
  f.at = f.at or P.now
  f.b = acct('balance')
  redis.call('RPUSH', K_OUT, cjson.encode(f))
  redis.call('ZADD', K_OUTBOX, 'NX', int(P.now), USER)
end

-- the due indexes hold, per user, the earliest thing the sweep must look at: a pending order's time, a lot's,
-- an unannounced lot's, the oldest month counted ("YYYYMM" as a number). index_min lowers one, reindex sets all.
local function index_min(key, score) redis.call('ZADD', key, 'LT', int(score), USER) end
local function month_num(m) return tonumber((string.gsub(string.sub(m, 1, 7), '-', ''))) end

local function entry(e)
  e.b = acct('balance')
  redis.call('RPUSH', K_ENTRIES, cjson.encode(e))
end

local function add_lot(id, at, points)
  redis.call('ZADD', K_LOTS, int(at), id)
  redis.call('HINCRBY', K_LOTAMT, id, int(points))
  redis.call('ZADD', K_UNWARNED, int(at), id)
  index_min(K_DUE_EXPIRE, at)
  index_min(K_DUE_WARN, at)
end

-- take up to amount from the lots: lot prefer first, then oldest first; returns what was taken
local function consume(amount, prefer)
  local taken = 0
  local function take(id)
    local left = num(redis.call('HGET', K_LOTAMT, id))
    local t = math.min(left, amount - taken)
    if t <= 0 then return end
    taken = taken + t
    if left - t <= 0 then
      redis.call('HDEL', K_LOTAMT, id)
      redis.call('ZREM', K_LOTS, id)
      redis.call('ZREM', K_UNWARNED, id)
    else
      redis.call('HINCRBY', K_LOTAMT, id, int(-t))
    end
  end
  if prefer ~= '' then take(prefer) end
  if taken < amount then
    for _, id in ipairs(redis.call('ZRANGE', K_LOTS, 0, -1)) do
      if taken >= amount then break end
      take(id)
    end
  end
  return taken
end

local function settle_order(key, o)
  o.st = 'settled'
  redis.call('HSET', K_ORDERS, key, cjson.encode(o))
  redis.call('ZREM', K_PEND, key)
  redis.call('HINCRBY', K_ACCT, 'pending', int(-o.p))
  redis.call('HINCRBY', K_ACCT, 'balance', int(o.p))
  if o.p > 0 then add_lot(key, o.at, o.p) end
  entry({at = P.now, k = 'settle', p = o.p, key = key, s = o.s, src = 'purchase'})
  if o.p > 0 then fact({k = 'settled', key = key, s = o.s, p = o.p}) end
end

local function settle()
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', K_PEND, '-inf', int(P.settle_before))) do
    local raw = redis.call('HGET', K_ORDERS, key)
    if raw then settle_order(key, cjson.decode(raw)) end
  end
end

local function expire()
  local total = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_LOTS, '-inf', int(P.expire_before))) do
    total = total + num(redis.call('HGET', K_LOTAMT, id))
    redis.call('HDEL', K_LOTAMT, id)
    redis.call('ZREM', K_LOTS, id)
    redis.call('ZREM', K_UNWARNED, id)
  end
  if total > 0 then
    redis.call('HINCRBY', K_ACCT, 'balance', int(-total))
    redis.call('HINCRBY', K_ACCT, 'expired', int(total))
    entry({at = P.now, k = 'expire', p = -total})
    fact({k = 'expired', p = total})
  end
  local months = redis.call('HKEYS', K_EARNED)
  for _, m in ipairs(months) do
    if m < P.first_month then redis.call('HDEL', K_EARNED, m) end
  end
end

-- forget the settled and refunded orders made at or before expire_before: their points have expired, and
-- a refund no longer finds them
local function drop_old_orders()
  local flat = redis.call('HGETALL', K_ORDERS)
  for i = 1, #flat, 2 do
    local o = cjson.decode(flat[i + 1])
    if o.st ~= 'pending' and o.at <= P.expire_before then redis.call('HDEL', K_ORDERS, flat[i]) end
  end
end

-- K_EARNED holds, per month "YYYY-MM", the points granted, and under "YYYY-MM:spent" the fen spent (tiers by
-- spend) and "YYYY-MM:uncapped" the points of sources outside the cap; all pruned with their month by expire
local function sum12(suffix)
  local flat = redis.call('HGETALL', K_EARNED)
  local sum = 0
  for i = 1, #flat, 2 do
    local m, sfx = string.match(flat[i], '^([^:]+)(.*)$')
    if m >= P.first_month and sfx == suffix then sum = sum + num(flat[i + 1]) end
  end
  return sum
end
local function earned12() return sum12('') end
local function spent12() return sum12(':spent') end

-- what tier thresholds count (Policy.standing): points earned, or whole yuan spent
local function standing(earned, spent_fen)
  if P.basis == 'spend' then return math.floor(spent_fen / 100) end
  return earned
end

local function tier_for(earned)
  local rule = P.tiers[1]
  for i = 2, #P.tiers do
    if earned >= P.tiers[i].th then rule = P.tiers[i] end
  end
  return rule
end

-- record the tier the standing gives now, with a fact if it changed (a user never awarded has none)
local function retier(why)
  local cur = redis.call('HGET', K_ACCT, 'tier')
  if not cur then return end
  local to = tier_for(standing(earned12(), spent12())).t
  if to ~= cur then
    redis.call('HSET', K_ACCT, 'tier', to)
    fact({k = 'tier', from = cur, to = to, why = why})
  end
end

-- announce, once, the lots that come within the notice of expiring (earned at or before warn_before)
local function warn()
  local ids = redis.call('ZRANGEBYSCORE', K_UNWARNED, '-inf', int(P.warn_before))
  if #ids == 0 then return end
  local total = 0
  for _, id in ipairs(ids) do total = total + num(redis.call('HGET', K_LOTAMT, id)) end
  redis.call('ZREMRANGEBYSCORE', K_UNWARNED, '-inf', int(P.warn_before))
  if total > 0 then fact({k = 'expiring', p = total, by = P.warn_by}) end
end

-- set the user's due indexes from the state
local function reindex()
  local function first(src, due)
    local r = redis.call('ZRANGE', src, 0, 0, 'WITHSCORES')
    if r[2] then redis.call('ZADD', due, r[2], USER) else redis.call('ZREM', due, USER) end
  end
  first(K_PEND, K_DUE_SETTLE)
  first(K_LOTS, K_DUE_EXPIRE)
  first(K_UNWARNED, K_DUE_WARN)
  local oldest
  for _, m in ipairs(redis.call('HKEYS', K_EARNED)) do
    local n = month_num(m)
    if n and (not oldest or n < oldest) then oldest = n end
  end
  if oldest then redis.call('ZADD', K_DUE_ROLL, oldest, USER) else redis.call('ZREM', K_DUE_ROLL, USER) end
end

-- what every call touching the user does first: settle, expire, announce, re-tier after the window rolled
local function due()
  settle()
  expire()
  warn()
  retier('window')
  reindex()
end

-- the user's participation points per stream (KEYS bpts: stream → {t, v, exp}), copied to the stream's
-- leaderboard after the script (RedisStore.pushBoard): t the points, v a version counting the changes, exp
-- until when the board lasts (Unix ms). Versions are drawn from one counter of the user's (acct bseq), so
-- that a stream's field dropped and made again never goes back to a version its board holds already.
local function board_get(key, s)
  local raw = redis.call('HGET', key, s)
  if raw then return cjson.decode(raw) end
  return nil
end
local function board_add(key, s, delta, exp)
  local b = board_get(key, s) or {t = 0, v = 0, exp = 0}
  b.t = math.max(0, b.t + delta)
  b.v = math.max(b.v, acct('bseq')) + 1
  redis.call('HSET', K_ACCT, 'bseq', int(b.v))
  if exp and exp > b.exp then b.exp = exp end
  local raw = cjson.encode(b)
  redis.call('HSET', key, s, raw)
  return raw
end
