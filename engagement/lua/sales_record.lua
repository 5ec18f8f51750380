-- KEYS: sales hash, orders hash, buyers hash (user → orders not refunded whole), refunded set, viewers, legacy
-- buyers set (sales_buyers.lua) (all renewed). ARGV: order id, order json, user, amount fen, ttl ms, then per
-- item: product id, qty, gmv fen. Returns 'dup' if the order was counted before, else 'ok'.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'dup' end
local order = cjson.decode(ARGV[2])
order.b = true -- counted in the buyers hash
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(order))
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HINCRBY', KEYS[1], 'orders', 1)
redis.call('HINCRBY', KEYS[1], 'gmv', ARGV[4])
for i = 6, #ARGV, 3 do
  local p = 'p:' .. ARGV[i] .. ':'
  redis.call('HINCRBY', KEYS[1], p .. 'orders', 1)
  redis.call('HINCRBY', KEYS[1], p .. 'units', ARGV[i + 1])
  redis.call('HINCRBY', KEYS[1], p .. 'gmv', ARGV[i + 2])
end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[5]) end
return 'ok'
