-- KEYS[1] an index written before a user's script in a slot of its own: a gift's claim ({g:<claim id>}gift,
-- ARGV[1] "set", ARGV[2] its value) or the index of holds ({held}held, ARGV[1] "zadd", ARGV[2] the score,
-- ARGV[3] the member; "zrem" drops the member if its score is still ARGV[2], the one its call gave it: a
-- later call under the same request id gave it its own). A script so that RedisStore.runStep can wait for
-- replicas after it.
if ARGV[1] == 'zrem' then
  if redis.call('ZSCORE', KEYS[1], ARGV[3]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[3]) end
elseif ARGV[1] == 'zadd' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 0
