-- KEYS[1] the user's redemptions (hash by request id). ARGV[1] request id, ARGV[2] now (Unix ms), ARGV[3] the
-- claim id. Marks the redemption fulfilled once; returns its JSON, or false if there is none with that claim
-- (a gift index is written before its redemption: one whose redemption never happened finds nothing).
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return false end
local r = cjson.decode(rec)
if r.claim ~= ARGV[3] then return false end
if not r.ful then
  r.ful = tonumber(ARGV[2])
  rec = cjson.encode(r)
  redis.call('HSET', KEYS[1], ARGV[1], rec)
end
return rec
