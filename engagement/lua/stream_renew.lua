-- Renews a live stream's record. KEYS: the record. ARGV: ttl ms. Returns 1 if renewed.
local raw = redis.call('GET', KEYS[1])
if not raw or cjson.decode(raw).status ~= 'live' then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
