local h = redis.call('HMGET', KEYS[1], 'status', 'opens')
if not h[1] then return {'not_found'} end
if h[1] ~= ARGV[5] then return {'closed'} end
if tonumber(ARGV[3]) < tonumber(h[2]) then return {'not_yet'} end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return {'duplicate'} end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'ok'}
