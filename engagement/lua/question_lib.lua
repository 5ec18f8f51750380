-- question_lib is shared by the question scripts: touch renews the TTL of every key, view answers the
-- question ARGV id as {"ok", json, votes, answered, hidden, pinned, changed}.
local function touch(ttl)
  for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
end
local function view(id, changed)
  local pinned = redis.call('GET', KEYS[6]) == id
  return {'ok', redis.call('HGET', KEYS[1], id), redis.call('HGET', KEYS[2], id) or '0',
    redis.call('SISMEMBER', KEYS[4], id), redis.call('SISMEMBER', KEYS[5], id), pinned and 1 or 0, changed and 1 or 0}
end
