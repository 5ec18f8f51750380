local id, flag, on = ARGV[1], ARGV[2], ARGV[3] == '1'
if redis.call('HEXISTS', KEYS[1], id) == 0 then return {'not_found'} end
local changed = false
if flag == 'pinned' then
  local isPinned = redis.call('GET', KEYS[6]) == id
  if on and redis.call('SISMEMBER', KEYS[5], id) == 1 then return {'invalid'} end
  if on and not isPinned then
    redis.call('SET', KEYS[6], id)
    changed = true
  elseif not on and isPinned then
    redis.call('DEL', KEYS[6])
    changed = true
  end
else
  local set = KEYS[4]
  if flag == 'hidden' then set = KEYS[5] end
  if on then
    changed = redis.call('SADD', set, id) == 1
  else
    changed = redis.call('SREM', set, id) == 1
  end
  if flag == 'hidden' and on and redis.call('GET', KEYS[6]) == id then redis.call('DEL', KEYS[6]) end
end
touch(ARGV[4])
return view(id, changed)
