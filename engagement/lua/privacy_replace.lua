-- Rewrites one value of an erased user's, only if it is still the value read (a concurrent write is never
-- lost). KEYS[1]: the key. ARGV: the key's type (string, hash, list, zset), the old value, the new value,
-- "1" to remove the value instead, the hash field. Returns 1 if it changed the value, 0 if it was gone or
-- had changed.
local key, typ, old, new, drop, field = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
if typ == 'string' then
  if redis.call('GET', key) ~= old then return 0 end
  if drop then redis.call('DEL', key) else redis.call('SET', key, new, 'KEEPTTL') end
  return 1
elseif typ == 'hash' then
  if redis.call('HGET', key, field) ~= old then return 0 end
  if drop then redis.call('HDEL', key, field) else redis.call('HSET', key, field, new) end
  return 1
elseif typ == 'list' then
  if drop then return redis.call('LREM', key, 1, old) end
  local items = redis.call('LRANGE', key, 0, -1)
  for i, v in ipairs(items) do
    if v == old then
      redis.call('LSET', key, i - 1, new)
      return 1
    end
  end
  return 0
elseif typ == 'zset' then
  local score = redis.call('ZSCORE', key, old)
  if not score then return 0 end
  redis.call('ZREM', key, old)
  if not drop then redis.call('ZADD', key, score, new) end
  return 1
end
return 0
