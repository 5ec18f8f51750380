-- KEYS[1] the claim of an award key ({k:<key>}claim). ARGV[1] the user, ARGV[2] exp (Unix ms, when the key's
-- record may be forgotten), ARGV[3] ttl (ms), ARGV[4] now (Unix ms, the ledger's clock).
-- Claims the key for the user unless another user holds it; a claim past its exp by the ledger's clock is
-- gone, as its record is. Returns the user the key belongs to.
-- The claim must last as long as the record of the award it covers (else another user could be paid under
-- the key while the record is kept): a claim of the user's own is lengthened to exp, which is the exp of the
-- record the award script writes if it applies (a retry in a later month than the call that claimed the key
-- and stopped keeps its record longer). A replay may lengthen it past its record: another user's award under
-- the key is then refused (ErrConflict) until the claim ends, never paid.
local raw = redis.call('GET', KEYS[1])
local exp = tonumber(ARGV[2])
if raw then
  local c = cjson.decode(raw)
  if c.exp > tonumber(ARGV[4]) and (c.u ~= ARGV[1] or c.exp >= exp) then return c.u end
end
redis.call('SET', KEYS[1], cjson.encode({u = ARGV[1], exp = exp}), 'PX', ARGV[3])
return ARGV[1]
