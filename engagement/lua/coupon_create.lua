if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local pool = #ARGV > 6
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'opens', ARGV[4], 'expires', ARGV[5], 'remaining', ARGV[6], 'pool', pool and '1' or '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if pool then
  redis.call('DEL', KEYS[3])
  for i = 7, #ARGV, 1000 do
    redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return 1
