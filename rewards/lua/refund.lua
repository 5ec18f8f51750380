-- KEYS[8] stream leaderboard of the order. ARGV[2] {key, user, at}.
-- Returns {status, result JSON}; status "ok", "not_found" or "duplicate".
local R = cjson.decode(ARGV[2])
expire()
local raw = redis.call('HGET', K_ORDERS, R.key)
if not raw then settle() return {'not_found', ''} end
local o = cjson.decode(raw)
if o.at <= P.expire_before then settle() return {'not_found', ''} end -- its points have expired: too late
if o.st == 'refunded' then settle() return {'duplicate', ''} end

local res = {cancelled = 0, reversed = 0, shortfall = 0}
if o.st == 'pending' and R.at < o.at + P.window then
  redis.call('HINCRBY', K_ACCT, 'pending', int(-o.p))
  redis.call('ZREM', K_PEND, R.key)
  res.cancelled = o.p
  if o.p > 0 then entry({at = R.at, k = 'refund', p = -o.p, key = R.key, s = o.s, src = 'purchase'}) end
else
  if o.st == 'pending' then settle_order(R.key, o) end
  local taken = consume(o.p, R.key)
  redis.call('HINCRBY', K_ACCT, 'balance', int(-taken))
  redis.call('HINCRBY', K_ACCT, 'shortfall', int(o.p - taken))
  res.reversed, res.shortfall = taken, o.p - taken
  if o.p > 0 then
    entry({at = R.at, k = 'reversal', p = -taken, key = R.key, s = o.s, src = 'purchase', sf = o.p - taken})
  end
end
o.st = 'refunded'
redis.call('HSET', K_ORDERS, R.key, cjson.encode(o))
local m = redis.call('HGET', K_EARNED, o.m)
if m then redis.call('HSET', K_EARNED, o.m, int(math.max(0, num(m) - o.p))) end
-- only a participation award counted on the leaderboard; an order written before b existed did
if o.s ~= '' and o.p > 0 and o.b ~= false then
  if num(redis.call('ZINCRBY', KEYS[8], int(-o.p), R.user)) <= 0 then redis.call('ZREM', KEYS[8], R.user) end
end
res.balance = acct('balance')
settle()
return {'ok', cjson.encode(res)}
