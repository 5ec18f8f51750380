if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'duplicate'} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'closed'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
touch(ARGV[4])
return {'ok'}
