-- KEYS: sales hash, orders hash, buyers set, refunded set, viewers (all renewed). ARGV: order id, ttl ms. Subtracts a counted order once.
-- Returns 'none' (not counted, or refunded before) or 'ok'.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 'none' end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 'none' end
local o = cjson.decode(raw)
local function int(v) return string.format('%d', v) end
redis.call('HINCRBY', KEYS[1], 'orders', -1)
redis.call('HINCRBY', KEYS[1], 'gmv', '-' .. int(o.amount_fen))
if type(o.items) == 'table' then
  for _, it in ipairs(o.items) do
    local p = 'p:' .. it.product_id .. ':'
    redis.call('HINCRBY', KEYS[1], p .. 'orders', -1)
    redis.call('HINCRBY', KEYS[1], p .. 'units', '-' .. int(it.qty))
    redis.call('HINCRBY', KEYS[1], p .. 'gmv', '-' .. int(it.qty * it.price_fen))
  end
end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[2]) end
return 'ok'
