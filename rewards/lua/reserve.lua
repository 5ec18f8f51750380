-- KEYS[1] a reward's units sold ({r:<id>}sold), KEYS[2] its holds (resv), KEYS[3] its legacy counter of units
-- left, KEYS[4] how many holds are in progress (busy). ARGV[1] the hold ("<user>\0<request id>"), ARGV[2] the
-- reward's stock, ARGV[3] now (Unix ms).
-- Holds one unit for a redemption in progress: "held" if this hold exists already (a retry, or a concurrent
-- call with the same request id: it shares the hold, counted in the hold's "<ms> <calls>", so that the unit
-- is freed only when the last call sharing it is refused), "ok" if a unit was free; when none is, "busy"
-- while other holds are in progress (one may be released: the caller asks again), else "out_of_stock".
local h = redis.call('HGET', KEYS[2], ARGV[1])
if h then
  if h ~= 'done' then
    local at, calls = string.match(h, '^(%d+) ?(%d*)$')
    redis.call('HSET', KEYS[2], ARGV[1], at .. ' ' .. string.format('%d', (tonumber(calls) or 1) + 1))
  end
  return 'held'
end
local stock = tonumber(ARGV[2])
local sold = redis.call('GET', KEYS[1])
if not sold then
  -- a store from before sold: its counter held the units left of this stock
  local left = redis.call('GET', KEYS[3])
  sold = 0
  if left then sold = math.max(0, stock - tonumber(left)) end
  redis.call('SET', KEYS[1], string.format('%d', sold))
end
if tonumber(sold) >= stock then
  if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then return 'busy' end
  return 'out_of_stock'
end
redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ' 1')
return 'ok'
