local h = redis.call('HMGET', KEYS[1], 'status', 'opens', 'closes', 'options')
if not h[1] then return {'not_found'} end
if h[1] ~= ARGV[5] then return {'closed'} end
local now = tonumber(ARGV[3])
if now < tonumber(h[2]) then return {'not_yet'} end
if h[3] ~= '' and now >= tonumber(h[3]) then return {'closed'} end
local opt = tonumber(ARGV[2])
if opt < 0 or opt >= tonumber(h[4]) then return {'invalid', h[4]} end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return {'duplicate'} end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('SADD', KEYS[4], ARGV[1])
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return poll_reply('ok', KEYS[1], KEYS[2])
