local field = 'id:' .. ARGV[1]
for _, k in ipairs(KEYS) do
  local d = redis.call('HGET', k, field)
  if d then return {d, 1} end
end
local d = 'capped'
if tonumber(redis.call('HGET', KEYS[1], 'sent') or '0') < tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[1], 'sent', 1)
  d = 'sent'
end
redis.call('HSET', KEYS[1], field, d)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {d, 0}
