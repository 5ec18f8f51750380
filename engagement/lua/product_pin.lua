-- KEYS: products hash, order list, pinned. ARGV: id, ttl ms, 'pin' or 'unpin'. Returns {'not_found'}; pin
-- {'ok', the product's JSON}; unpin {'was'} (it was pinned, now is not) or {'not'}.
local p = redis.call('HGET', KEYS[1], ARGV[1])
if not p then return {'not_found'} end
local res = {'ok', p}
if ARGV[3] == 'pin' then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
else
  res = {'not'}
  if redis.call('GET', KEYS[3]) == ARGV[1] then
    redis.call('DEL', KEYS[3])
    res = {'was'}
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return res
