-- KEYS: the user's hash of kind on day, and of the day before. ARGV: id, limit, ttl ms.
-- An id that took a slot on either day keeps it: {'taken', 1}. Otherwise it takes one of limit slots of the
-- day, {'taken', 0}, or none is left: {'refused', 0}, remembering nothing, so that the id may try again.
local field = 'id:' .. ARGV[1]
for _, k in ipairs(KEYS) do
  if redis.call('HEXISTS', k, field) == 1 then return {'taken', 1} end
end
if tonumber(redis.call('HGET', KEYS[1], 'taken') or '0') >= tonumber(ARGV[2]) then return {'refused', 0} end
redis.call('HINCRBY', KEYS[1], 'taken', 1)
redis.call('HSET', KEYS[1], field, '1')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'taken', 0}
