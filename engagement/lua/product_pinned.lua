-- KEYS: products hash, pinned. Returns {'ok', the pinned product's JSON} or {'none'}.
local id = redis.call('GET', KEYS[2])
if not id then return {'none'} end
local p = redis.call('HGET', KEYS[1], id)
if not p then return {'none'} end
return {'ok', p}
