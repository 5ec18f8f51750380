local h = redis.call('HMGET', KEYS[1], 'json', 'opens', 'expires', 'remaining', 'pool')
if not h[1] then return {'not_found'} end
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then return {'duplicate', prev, h[1]} end
local now = tonumber(ARGV[3])
if now < tonumber(h[2]) then return {'not_yet'} end
if now >= tonumber(h[3]) then return {'expired'} end
if tonumber(h[4]) <= 0 then return {'no_stock'} end
local code = ARGV[2]
if h[5] == '1' then
  code = redis.call('LPOP', KEYS[3])
  if not code then return {'no_stock'} end
end
redis.call('HSET', KEYS[2], ARGV[1], code)
local left = redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {'ok', h[1], left, code}
