-- Shared by the sales scripts (KEYS as salesKeys: KEYS[2] orders, KEYS[3] buyers, KEYS[4] refunded, KEYS[6] the
-- buyers as the version before partial refunds kept them, a set of users). The first script on a stream that
-- still has that set counts its orders not refunded whole into the buyers hash, marks each (b: counted in the
-- hash) and drops the set; a node of that version writing it again meanwhile only adds unmarked orders.
local function migrate_buyers()
  if redis.call('EXISTS', KEYS[6]) == 0 then return end
  local flat = redis.call('HGETALL', KEYS[2])
  for i = 1, #flat, 2 do
    local o = cjson.decode(flat[i + 1])
    if not o.b and redis.call('SISMEMBER', KEYS[4], flat[i]) == 0 then
      redis.call('HINCRBY', KEYS[3], o.user, 1)
      o.b = true
      redis.call('HSET', KEYS[2], flat[i], cjson.encode(o))
    end
  end
  redis.call('DEL', KEYS[6])
end
migrate_buyers()
