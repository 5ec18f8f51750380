-- KEYS: sales hash, orders hash, buyers hash, refunded set, viewers, legacy buyers set (sales_buyers.lua) (all renewed). ARGV: order id, ttl ms, refund json
-- {id, amount_fen, items, full} (SaleRefund). Subtracts a refund of a counted order once per refund id
-- (SalesStore.RefundSale); the order's JSON keeps what is left of it and the refund ids counted.
-- Returns 'none' (not counted, refund counted before, or refunded whole before) or 'ok'.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 'none' end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 'none' end
local o = cjson.decode(raw)
local r = cjson.decode(ARGV[3])
local function int(v) return string.format('%d', v) end
if type(o.rids) ~= 'table' then o.rids = {} end
if o.rids[r.id] then return 'none' end
o.rids[r.id] = true
-- what is left of the order: its amount, and per product units and GMV (written at the first refund)
if type(o.left) ~= 'number' then
  o.left, o.units, o.gmv = o.amount_fen, {}, {}
  if type(o.items) == 'table' then
    for _, it in ipairs(o.items) do
      o.units[it.product_id] = (o.units[it.product_id] or 0) + it.qty
      o.gmv[it.product_id] = (o.gmv[it.product_id] or 0) + it.qty * it.price_fen
    end
  end
end
local amount = math.min(math.max(r.amount_fen or 0, 0), o.left)
if r.full then amount = o.left end
o.left = o.left - amount
redis.call('HINCRBY', KEYS[1], 'gmv', int(-amount))
local function take(pid, units, gmv)
  local p = 'p:' .. pid .. ':'
  redis.call('HINCRBY', KEYS[1], p .. 'units', int(-units))
  redis.call('HINCRBY', KEYS[1], p .. 'gmv', int(-gmv))
  o.units[pid] = o.units[pid] - units
  o.gmv[pid] = o.gmv[pid] - gmv
end
if type(r.items) == 'table' then
  for _, it in ipairs(r.items) do
    if o.units[it.product_id] then
      take(it.product_id, math.min(it.qty, o.units[it.product_id]), math.min(it.qty * it.price_fen, o.gmv[it.product_id]))
    end
  end
end
if r.full then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'orders', -1)
  if type(o.items) == 'table' then
    for _, it in ipairs(o.items) do
      redis.call('HINCRBY', KEYS[1], 'p:' .. it.product_id .. ':orders', -1)
      take(it.product_id, o.units[it.product_id], o.gmv[it.product_id])
    end
  end
  if o.b and redis.call('HINCRBY', KEYS[3], o.user, -1) <= 0 then redis.call('HDEL', KEYS[3], o.user) end
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(o))
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[2]) end
return 'ok'
