local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'not_found'} end
if st == ARGV[4] then return poll_reply('already', KEYS[1], KEYS[2]) end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'closed_at', ARGV[2])
if redis.call('HGET', KEYS[3], 'id') == ARGV[1] then
  redis.call('HSET', KEYS[3], 'status', ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return poll_reply('closed', KEYS[1], KEYS[2])
