local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return {'not_found'} end
if cjson.decode(raw).user == ARGV[2] then return {'forbidden'} end
if redis.call('SADD', KEYS[3], ARGV[1] .. ':' .. ARGV[2]) == 0 then return {'duplicate'} end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
touch(ARGV[3])
return view(ARGV[1], true)
