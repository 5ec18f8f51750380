if redis.call('HGET', KEYS[1], 'status') == ARGV[3] then return 'open' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'ok'
