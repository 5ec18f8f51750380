-- KEYS[1] a stream's leaderboard ({b:<stream>}board), KEYS[2] its versions (bver), KEYS[3] until when it lasts
-- (bexp, Unix ms). ARGV[1] the user, ARGV[2] their bpts JSON {t, v, exp} for the stream, ARGV[3] now (Unix ms).
-- Copies the user's points to the board unless it holds this version or a newer one (copies may arrive late
-- or twice); the board lives until the latest exp it was given. A board past that by the ledger's clock is
-- gone, whether or not Redis expired it yet: it starts again.
local b = cjson.decode(ARGV[2])
local now = tonumber(ARGV[3])
local ttl = b.exp - now
if ttl <= 0 then return 0 end -- the board is gone by the ledger's clock
local until_ms = tonumber(redis.call('GET', KEYS[3]) or '0')
if until_ms > 0 and until_ms <= now then redis.call('DEL', KEYS[1], KEYS[2]) end
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if b.v <= have then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', b.v))
if b.t > 0 then
  redis.call('ZADD', KEYS[1], string.format('%d', b.t), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
if b.exp > until_ms then redis.call('SET', KEYS[3], string.format('%d', b.exp)) end
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, string.format('%d', ttl)) end
end
return 1
