local now = tonumber(ARGV[1])
local every = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if last and now - last < every then
  return every - (now - last)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, math.ceil(every / 1000)))
return 0
