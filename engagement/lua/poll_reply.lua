-- poll_reply returns outcome followed by the poll's json, status, closed_at, total and its counts as
-- field/value pairs.
local function poll_reply(outcome, pkey, ckey)
  local h = redis.call('HMGET', pkey, 'json', 'status', 'closed_at', 'total')
  local out = {outcome, h[1] or '', h[2] or '', h[3] or '', h[4] or '0'}
  for _, v in ipairs(redis.call('HGETALL', ckey)) do out[#out + 1] = v end
  return out
end
