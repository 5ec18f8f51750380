-- KEYS: products hash, order list, pinned. ARGV: id, ttl ms. Returns 'not_found', 'pinned' (it was the
-- pinned one, now unpinned) or 'ok'.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 'not_found' end
redis.call('LREM', KEYS[2], 0, ARGV[1])
local res = 'ok'
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
  res = 'pinned'
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return res
