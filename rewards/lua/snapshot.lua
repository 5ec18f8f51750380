-- Settles and expires, then returns {account hash, earned hash, recent entries} as flat arrays.
due()
return {
  redis.call('HGETALL', K_ACCT),
  redis.call('HGETALL', K_EARNED),
  redis.call('LRANGE', K_ENTRIES, -tonumber(ARGV[2]), -1),
}
