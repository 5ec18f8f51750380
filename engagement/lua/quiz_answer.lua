local h = redis.call('HMGET', KEYS[1], 'current', 'status', 'revealed', 'opens', 'deadline', 'questions', 'choices')
if not h[1] then return {'not_found'} end
local q = tonumber(ARGV[1])
if q < 0 or q >= tonumber(h[6]) or q ~= tonumber(h[1]) or h[2] ~= ARGV[7] or h[3] == '1' then
  return {'closed'}
end
local now = tonumber(ARGV[5])
if now < tonumber(h[4]) then return {'not_yet'} end
if now >= tonumber(h[5]) then return {'time_up'} end
local choice = tonumber(ARGV[2])
if choice < 0 or choice >= tonumber(h[7]) then return {'invalid', h[7]} end
if redis.call('SADD', KEYS[4], ARGV[3]) == 0 then return {'duplicate'} end
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':' .. ARGV[2], 1)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {'ok'}
