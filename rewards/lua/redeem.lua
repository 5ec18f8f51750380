-- KEYS[8] the user's redemptions (hash by request id), KEYS[9] the user's units per reward (hash).
-- ARGV[2] {user, reward, req, cost, limit, kind, dfen, mfen, code, claim, held}; held: a unit is held for
-- it (the redemption records it, so that whoever ends the hold knows it is the redemption's). A limited reward's unit is held
-- before this script runs (reserve.lua) and kept or released after it by what it returns (RedisStore.Redeem).
-- Returns {status, redemption JSON}; status "ok", "replay", "duplicate", "limit" or "insufficient".
local Q = cjson.decode(ARGV[2])
local rec = redis.call('HGET', KEYS[8], Q.req)
if rec then
  if cjson.decode(rec).reward ~= Q.reward then return {'duplicate', ''} end
  return {'replay', rec}
end
due()
if Q.limit > 0 and num(redis.call('HGET', KEYS[9], Q.reward)) >= Q.limit then return {'limit', ''} end
if acct('balance') < Q.cost then return {'insufficient', ''} end
consume(Q.cost, '')
redis.call('HINCRBY', K_ACCT, 'balance', int(-Q.cost))
redis.call('HINCRBY', KEYS[9], Q.reward, 1)
entry({at = P.now, k = 'redeem', p = -Q.cost, key = Q.req, src = Q.reward})
local res = cjson.encode({id = Q.req, user = Q.user, reward = Q.reward, cost = Q.cost, at = P.now, balance = acct('balance'),
  kind = Q.kind, dfen = Q.dfen, mfen = Q.mfen, code = Q.code, claim = Q.claim, held = Q.held or nil})
redis.call('HSET', KEYS[8], Q.req, res)
return {'ok', res}
