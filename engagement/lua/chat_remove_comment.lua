redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, c = pcall(cjson.decode, raw)
  if ok and type(c) == 'table' and c.id == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, raw)
    return 1
  end
end
return 0
