local h = redis.call('HMGET', KEYS[1], 'json', 'expires', 'order', 'redeemed')
if not h[1] then return {'not_found'} end
if h[3] then
  if h[3] == ARGV[1] then return {'ok', h[1], h[3], h[4]} end
  return {'conflict'}
end
if tonumber(ARGV[2]) >= tonumber(h[2]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'order', ARGV[1], 'redeemed', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'ok', h[1], ARGV[1], ARGV[2]}
