-- KEYS[8] award record, KEYS[9] the user's points per stream (bpts). ARGV[2] the award, with exp (when its
-- record may be forgotten, Unix ms), ttl (ms from now until then) and bexp (null, or stream → until when its
-- board lasts, Unix ms, 0 if it is gone: what the caller read for the streams of a 'board' reply).
-- Returns {applied (0|1), result JSON, the stream's bpts JSON or ''}, {'conflict', '', ''} for a replayed
-- key with another fingerprint, or {'board', JSON array of streams, ''} (nothing changed) when the user's
-- points on those streams are past their exp: whether each board is gone is known to its own slot, so the
-- caller reads them (RedisStore.boardsUntil) and runs the script again with bexp. A replay returns the
-- stream's bpts too, so that a retry copies it to the leaderboard again (RedisStore.pushBoard) if the first
-- call stopped before it did.
local A = cjson.decode(ARGV[2])
local rec = redis.call('GET', KEYS[8])
if rec then
  local r = cjson.decode(rec)
  -- a record past its exp by the ledger's clock is gone, whether or not Redis expired it yet
  if not (type(r.exp) == 'number' and r.exp <= P.now) then
    if type(r.fp) == 'string' and r.fp ~= '' and A.fp ~= '' and r.fp ~= A.fp then return {'conflict', '', ''} end
    local bp = ''
    if A.s ~= '' and A.part then bp = redis.call('HGET', KEYS[9], A.s) or '' end
    return {0, rec, bp}
  end
end
-- the user's points on the streams whose boards may be gone (their last award there is past its exp): a board
-- gone drops them (the next award there counts from nothing, as on a new board; the version goes on, from
-- bseq); a board that other users' awards keep lasts, and so do the user's points on it
if A.s ~= '' and A.part then
  local stale = {}
  local flat = redis.call('HGETALL', KEYS[9])
  for i = 1, #flat, 2 do
    if cjson.decode(flat[i + 1]).exp <= P.now then stale[#stale + 1] = flat[i] end
  end
  if #stale > 0 then
    if type(A.bexp) ~= 'table' then return {'board', cjson.encode(stale), ''} end
    for _, s in ipairs(stale) do
      local until_ms = tonumber(A.bexp[s]) or 0
      if until_ms > P.now then
        local b = board_get(KEYS[9], s)
        b.exp = until_ms
        redis.call('HSET', KEYS[9], s, cjson.encode(b))
      else
        redis.call('HDEL', KEYS[9], s)
      end
    end
  end
end
due()

local e12, s12 = earned12(), spent12()
local before = tier_for(standing(e12, s12))
local prev = redis.call('HGET', K_ACCT, 'tier')
if not prev then prev = P.tiers[1].t end
local base = A.p
if A.part then base = math.floor(A.p * before.bp / 10000) end
local room = P.cap - num(redis.call('HGET', K_EARNED, A.month)) + num(redis.call('HGET', K_EARNED, A.month .. ':uncapped'))
if room < 0 then room = 0 end
local granted = math.min(base, room)
if A.unc then granted = base end -- a source outside the cap: paid in full, the room unchanged
local capped = base - granted
if granted > 0 then redis.call('HINCRBY', K_EARNED, A.month, int(granted)) end
if granted > 0 and A.unc then redis.call('HINCRBY', K_EARNED, A.month .. ':uncapped', int(granted)) end
if A.spent > 0 then redis.call('HINCRBY', K_EARNED, A.month .. ':spent', int(A.spent)) end
index_min(K_DUE_ROLL, month_num(A.month))

if A.pend then
  drop_old_orders()
  redis.call('HSET', K_ORDERS, A.key, cjson.encode({p = granted, g = granted, amt = A.amt, unc = A.unc, at = A.at, m = A.month, s = A.s, st = 'pending', b = A.part}))
  redis.call('ZADD', K_PEND, int(A.at), A.key)
  index_min(K_DUE_SETTLE, A.at)
  if granted > 0 then
    redis.call('HINCRBY', K_ACCT, 'pending', int(granted))
    entry({at = A.at, k = 'pending', p = granted, key = A.key, s = A.s, src = A.src})
  end
elseif granted > 0 then
  redis.call('HINCRBY', K_ACCT, 'balance', int(granted))
  add_lot(A.key, A.at, granted)
  entry({at = A.at, k = 'award', p = granted, key = A.key, s = A.s, src = A.src})
end
local bp = ''
if granted > 0 and A.s ~= '' and A.part then
  -- count the points (the board lasts as long as the record of its last award: a late award never shortens it)
  bp = board_add(KEYS[9], A.s, granted, A.exp)
end
if capped > 0 then
  redis.call('HINCRBY', K_ACCT, 'capped', int(capped))
  entry({at = A.at, k = 'capped', p = capped, key = A.key, s = A.s, src = A.src})
end

local after = tier_for(standing(e12 + granted, s12 + A.spent))
redis.call('HSET', K_ACCT, 'tier', after.t)
if after.t ~= prev then fact({k = 'tier', from = prev, to = after.t, why = 'award'}) end
local res = cjson.encode({
  user = A.user, s = A.s, pend = A.pend, fp = A.fp, granted = granted, capped = capped,
  balance = acct('balance'), tier = after.t, prev = prev, changed = (after.t ~= prev), at = A.at, exp = A.exp,
})
redis.call('SET', KEYS[8], res, 'PX', int(A.ttl))
return {1, res, bp}
