-- KEYS[1] a reward's units sold, KEYS[2] its holds, KEYS[3] how many holds are in progress. ARGV[1] the hold,
-- ARGV[2] how it ends:
--   "keep"    the call made the redemption: the unit stays sold (a hold no longer there, which Sweep
--             released meanwhile, is taken again)
--   "kept"    the redemption was made under this hold, by another call (a retry finds it, or the sweep): the
--             unit stays sold if it is still held; none is taken (its call counted it)
--   "release" the call was refused, or its redemption was made without this hold (before holds existed):
--             one call fewer shares the hold, and the last one frees the unit
--   "expire"  the sweep found no redemption of a hold long past any call: the unit is free again
-- A kept hold stays, marked "done", so that a retry of its redemption finds it and holds no second unit.
-- Ending a hold that is done, or gone, otherwise changes nothing. Returns 1 if no call holds it any more (its
-- entry in the index of holds may go), else 0.
local h = redis.call('HGET', KEYS[2], ARGV[1])
local in_progress = h and h ~= 'done'
local how = ARGV[2]
local ended = false
if how == 'keep' then
  if not h then redis.call('INCR', KEYS[1]) end
  if h ~= 'done' then redis.call('HSET', KEYS[2], ARGV[1], 'done') end
  ended = in_progress
elseif how == 'kept' then
  if in_progress then redis.call('HSET', KEYS[2], ARGV[1], 'done') end
  ended = in_progress
elseif in_progress then
  local at, calls = string.match(h, '^(%d+) ?(%d*)$')
  calls = tonumber(calls) or 1
  if how == 'release' and calls > 1 then
    redis.call('HSET', KEYS[2], ARGV[1], at .. ' ' .. string.format('%d', calls - 1))
  else
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('DECR', KEYS[1])
    ended = true
  end
end
if ended then redis.call('DECR', KEYS[3]) end
local now = redis.call('HGET', KEYS[2], ARGV[1])
if now and now ~= 'done' then return 0 end
return 1
