local h = redis.call('HMGET', KEYS[1], 'json', 'opens', 'expires', 'remaining')
if not h[1] then return {'not_found'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'duplicate'} end
local now = tonumber(ARGV[3])
if now < tonumber(h[2]) then return {'not_yet'} end
if now >= tonumber(h[3]) then return {'expired'} end
if tonumber(h[4]) <= 0 then return {'no_stock'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local left = redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'ok', h[1], left}
