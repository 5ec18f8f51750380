-- KEYS[1] a stream's leaderboard ({b:<stream>}board), KEYS[2] its versions (bver). ARGV[1] the user, ARGV[2]
-- their bpts JSON {t, v, exp} for the stream, ARGV[3] now (Unix ms).
-- Copies the user's points to the board unless it holds this version or a newer one (copies may arrive late
-- or twice); the board lives until the latest exp it was given.
local b = cjson.decode(ARGV[2])
local ttl = b.exp - tonumber(ARGV[3])
if ttl <= 0 then return 0 end -- the board is gone by the ledger's clock
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if b.v <= have then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', b.v))
if b.t > 0 then
  redis.call('ZADD', KEYS[1], string.format('%d', b.t), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, string.format('%d', ttl)) end
end
return 1
