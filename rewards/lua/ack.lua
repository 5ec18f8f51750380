-- KEYS[1] the user's outbox, KEYS[2] the set of users with one. ARGV[1] seq, ARGV[2] the user.
-- Drops the facts with seq <= ARGV[1] (they are in order), and the user from the set once the outbox is empty.
local upto = tonumber(ARGV[1])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head or cjson.decode(head).seq > upto then break end
  redis.call('LPOP', KEYS[1])
end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) end
return 0
