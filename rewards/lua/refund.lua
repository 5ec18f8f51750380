-- KEYS[8] the user's points per stream (bpts). ARGV[2] {key, user, at, part, amount, max_parts}: a whole refund
-- when part is '', else a partial refund of amount under the id part (see Store.Refund).
-- Returns {status, result JSON, the order stream's bpts JSON or ''}; status "ok", "not_found", "duplicate", "conflict", "invalid" or "limit".
local R = cjson.decode(ARGV[2])
-- a replayed refund returns the stream's bpts too, so that a retry copies it to the leaderboard again
local function replay_board(o)
  if o.s ~= '' then return redis.call('HGET', KEYS[8], o.s) or '' end
  return ''
end
-- what every refund does last, whatever it answers, as the memory store does: settle what is due (after the
-- refund, so that one dated inside the return window cancels) and announce the lots coming up to expiry
local function finish() settle() warn() end
expire()
retier('window')
local raw = redis.call('HGET', K_ORDERS, R.key)
if not raw then finish() return {'not_found', ''} end
local o = cjson.decode(raw)
if o.at <= P.expire_before then finish() return {'not_found', ''} end -- its points have expired: too late
local g, amt, rf = o.g or o.p, o.amt or 0, o.rf or 0 -- an order written before partial refunds has no g, amt, rf

local refunded = amt -- a whole refund refunds what is left
if R.part ~= '' then
  if type(o.parts) == 'table' and o.parts[R.part] then
    local pr = o.parts[R.part]
    if pr.a ~= R.amount then finish() return {'conflict', ''} end
    pr.r.replayed = true
    pr.r.balance = acct('balance')
    finish()
    return {'ok', cjson.encode(pr.r), replay_board(o)}
  end
  if o.st == 'refunded' then finish() return {'duplicate', ''} end
  -- the share g × refunded ÷ amt is computed exactly only while g × amt < 2^53 (see Store.Refund)
  if amt <= 0 or R.amount <= 0 or R.amount > amt - rf or g > 9007199254740992 / amt then finish() return {'invalid', ''} end
  local n = 0
  if type(o.parts) == 'table' then for _ in pairs(o.parts) do n = n + 1 end end
  if n >= R.max_parts then finish() return {'limit', ''} end
  refunded = rf + R.amount
elseif o.st == 'refunded' then
  local pr = type(o.parts) == 'table' and o.parts[' whole'] -- wholeRefundKey: a retried whole refund replays
  if pr then
    pr.r.replayed = true
    pr.r.balance = acct('balance')
    finish()
    return {'ok', cjson.encode(pr.r), replay_board(o)}
  end
  finish() return {'duplicate', ''}
end

local target = g -- points taken back in all once refunded reaches amt
if refunded < amt then
  target = math.floor(g * refunded / amt)
  if target * amt > g * refunded then target = target - 1 end -- exact floor
end
local delta = o.p - (g - target)

local res = {cancelled = 0, reversed = 0, shortfall = 0, stream = o.s, total = amt, at = R.at}
if o.st == 'pending' and R.at < o.at + P.window then
  redis.call('HINCRBY', K_ACCT, 'pending', int(-delta))
  res.cancelled = delta
  if delta > 0 then entry({at = R.at, k = 'refund', p = -delta, key = R.key, s = o.s, src = 'purchase'}) end
else
  if o.st == 'pending' then settle_order(R.key, o) end
  local taken = consume(delta, R.key)
  redis.call('HINCRBY', K_ACCT, 'balance', int(-taken))
  redis.call('HINCRBY', K_ACCT, 'shortfall', int(delta - taken))
  res.reversed, res.shortfall = taken, delta - taken
  if delta > 0 then
    entry({at = R.at, k = 'reversal', p = -taken, key = R.key, s = o.s, src = 'purchase', sf = delta - taken})
  end
end
o.p, o.g = o.p - delta, g
res.amount, res.refunded = refunded - rf, refunded
o.rf = refunded
if refunded >= amt then
  o.st = 'refunded'
  res.full = true
  redis.call('ZREM', K_PEND, R.key)
else
  res.full = false
end
local m = redis.call('HGET', K_EARNED, o.m)
if m then redis.call('HSET', K_EARNED, o.m, int(math.max(0, num(m) - delta))) end
-- the order's month also loses what was refunded of its spend, and of its points outside the cap
for field, less in pairs({[o.m .. ':spent'] = res.amount, [o.m .. ':uncapped'] = (o.unc and delta or 0)}) do
  local v = redis.call('HGET', K_EARNED, field)
  if v and less > 0 then redis.call('HSET', K_EARNED, field, int(math.max(0, num(v) - less))) end
end
retier('refund')
-- only a participation award counted on the leaderboard; an order written before b existed did
local bp = ''
if o.s ~= '' and delta > 0 and o.b ~= false then bp = board_add(KEYS[8], o.s, -delta, nil) end
res.balance = acct('balance')
if R.part ~= '' then
  if type(o.parts) ~= 'table' then o.parts = {} end
  o.parts[R.part] = {a = R.amount, r = res}
else
  if type(o.parts) ~= 'table' then o.parts = {} end
  o.parts[' whole'] = {a = 0, r = res}
end
redis.call('HSET', K_ORDERS, R.key, cjson.encode(o))
finish()
return {'ok', cjson.encode(res), bp}
