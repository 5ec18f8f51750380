-- KEYS[8] the user's redemptions (hash by request id), KEYS[9] the reward's legacy stock counter (units left,
-- written before sold existed), KEYS[10] sold (hash reward → units redeemed), KEYS[11] the user's units per
-- reward (hash), KEYS[12] the gift claim index key (claim:<id>, unused without a claim).
-- ARGV[2] {user, reward, req, cost, stock, limit, kind, dfen, mfen, code, claim}.
-- Returns {status, redemption JSON}; status "ok", "replay", "duplicate", "limit", "out_of_stock" or "insufficient".
local Q = cjson.decode(ARGV[2])
local rec = redis.call('HGET', KEYS[8], Q.req)
if rec then
  if cjson.decode(rec).reward ~= Q.reward then return {'duplicate', ''} end
  return {'replay', rec}
end
due()
if Q.limit > 0 and num(redis.call('HGET', KEYS[11], Q.reward)) >= Q.limit then return {'limit', ''} end
if Q.stock > 0 then
  local sold = redis.call('HGET', KEYS[10], Q.reward)
  if not sold then
    -- a store from before sold: its counter held the units left of this stock
    local left = redis.call('GET', KEYS[9])
    sold = 0
    if left then sold = math.max(0, Q.stock - num(left)) end
    redis.call('HSET', KEYS[10], Q.reward, int(sold))
  end
  if num(sold) >= Q.stock then return {'out_of_stock', ''} end
end
if acct('balance') < Q.cost then return {'insufficient', ''} end
consume(Q.cost, '')
redis.call('HINCRBY', K_ACCT, 'balance', int(-Q.cost))
redis.call('HINCRBY', KEYS[10], Q.reward, 1)
redis.call('HINCRBY', KEYS[11], Q.reward, 1)
entry({at = P.now, k = 'redeem', p = -Q.cost, key = Q.req, src = Q.reward})
local res = cjson.encode({id = Q.req, user = Q.user, reward = Q.reward, cost = Q.cost, at = P.now, balance = acct('balance'),
  kind = Q.kind, dfen = Q.dfen, mfen = Q.mfen, code = Q.code, claim = Q.claim})
redis.call('HSET', KEYS[8], Q.req, res)
if Q.claim ~= '' then redis.call('SET', KEYS[12], cjson.encode({user = Q.user, req = Q.req})) end
return {'ok', res}
