-- KEYS: products hash, order list. Returns {'ok', the products' JSON in the order added...}.
local out = {'ok'}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local p = redis.call('HGET', KEYS[1], id)
  if p then out[#out + 1] = p end
end
return out
