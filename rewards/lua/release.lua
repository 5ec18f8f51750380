-- KEYS[1] a reward's units sold, KEYS[2] its holds, KEYS[3] how many holds are in progress. ARGV[1] the hold,
-- ARGV[2] "keep" (the redemption was made: the unit stays sold) or "release" (it was refused: the unit is
-- free again).
-- A kept hold stays, marked "done", so that a retry of its redemption finds it and holds no second unit. A
-- hold to keep that is not there any more (Sweep released it meanwhile) is taken again. Releasing a hold
-- that is done, or gone, changes nothing.
local h = redis.call('HGET', KEYS[2], ARGV[1])
local in_progress = h and h ~= 'done'
if ARGV[2] == 'keep' then
  if not h then redis.call('INCR', KEYS[1]) end
  if h ~= 'done' then redis.call('HSET', KEYS[2], ARGV[1], 'done') end
elseif in_progress then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('DECR', KEYS[1])
end
if in_progress then redis.call('DECR', KEYS[3]) end
return 0
