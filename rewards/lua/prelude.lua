-- Shared by every ledger script. KEYS[1..7] are the user's keys, ARGV[1] the Policy as JSON.
-- All times are Unix milliseconds; months are "YYYY-MM" strings, which compare in order.
local P = cjson.decode(ARGV[1])
local K_ACCT, K_EARNED, K_LOTS, K_LOTAMT, K_ORDERS, K_PEND, K_ENTRIES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local function int(x) return string.format('%d', x) end
local function num(v) return tonumber(v) or 0 end
local function acct(field) return num(redis.call('HGET', K_ACCT, field)) end

local function entry(e)
  e.b = acct('balance')
  redis.call('RPUSH', K_ENTRIES, cjson.encode(e))
end

local function add_lot(id, at, points)
  redis.call('ZADD', K_LOTS, int(at), id)
  redis.call('HINCRBY', K_LOTAMT, id, int(points))
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
  end
  if total > 0 then
    redis.call('HINCRBY', K_ACCT, 'balance', int(-total))
    redis.call('HINCRBY', K_ACCT, 'expired', int(total))
    entry({at = P.now, k = 'expire', p = -total})
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

local function earned12()
  local flat = redis.call('HGETALL', K_EARNED)
  local sum = 0
  for i = 1, #flat, 2 do
    if flat[i] >= P.first_month then sum = sum + num(flat[i + 1]) end
  end
  return sum
end

local function tier_for(earned)
  local rule = P.tiers[1]
  for i = 2, #P.tiers do
    if earned >= P.tiers[i].th then rule = P.tiers[i] end
  end
  return rule
end
