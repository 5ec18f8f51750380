local key = ARGV[1]
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return -1 end
if key ~= '' and redis.call('SADD', KEYS[3], key) == 0 then return -1 end
local seq = redis.call('INCR', KEYS[2]) - 1
local member = string.format('%016x%08x', seq, #key) .. key .. string.format('%08x', #ARGV[3]) .. ARGV[3] .. ARGV[4]
redis.call('ZADD', KEYS[1], ARGV[2], member)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
redis.call('PEXPIRE', KEYS[5], ARGV[6]) -- the hidden items (if any) live as long as the timeline they hide
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8]) end
return seq
