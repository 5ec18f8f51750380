-- KEYS[8] the user's redemptions (hash by request id), KEYS[9] reward stock. ARGV[2] {user, reward, req, cost, stock}.
-- Returns {status, redemption JSON}; status "ok", "replay", "duplicate", "out_of_stock" or "insufficient".
local Q = cjson.decode(ARGV[2])
local rec = redis.call('HGET', KEYS[8], Q.req)
if rec then
  if cjson.decode(rec).reward ~= Q.reward then return {'duplicate', ''} end
  return {'replay', rec}
end
settle()
expire()
if Q.stock > 0 then
  redis.call('SET', KEYS[9], int(Q.stock), 'NX')
  if num(redis.call('GET', KEYS[9])) <= 0 then return {'out_of_stock', ''} end
end
if acct('balance') < Q.cost then return {'insufficient', ''} end
consume(Q.cost, '')
redis.call('HINCRBY', K_ACCT, 'balance', int(-Q.cost))
if Q.stock > 0 then redis.call('DECR', KEYS[9]) end
entry({at = P.now, k = 'redeem', p = -Q.cost, key = Q.req, src = Q.reward})
local res = cjson.encode({id = Q.req, user = Q.user, reward = Q.reward, cost = Q.cost, at = P.now, balance = acct('balance')})
redis.call('HSET', KEYS[8], Q.req, res)
return {'ok', res}
