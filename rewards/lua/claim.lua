-- KEYS[1] the claim of an award key ({k:<key>}claim). ARGV[1] the user, ARGV[2] exp (Unix ms, when the key's
-- record may be forgotten), ARGV[3] ttl (ms), ARGV[4] now (Unix ms, the ledger's clock).
-- Claims the key for the user unless another user holds it; a claim past its exp by the ledger's clock is
-- gone, as its record is. Returns the user the key belongs to.
local raw = redis.call('GET', KEYS[1])
if raw then
  local c = cjson.decode(raw)
  if c.u == ARGV[1] or c.exp > tonumber(ARGV[4]) then return c.u end
end
redis.call('SET', KEYS[1], cjson.encode({u = ARGV[1], exp = tonumber(ARGV[2])}), 'PX', ARGV[3])
return ARGV[1]
