local afterOffset, afterSeq, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
local chunk = limit + 32
local pos = 0
while true do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', pos, chunk)
  for i = 1, #batch, 2 do
    local m = batch[i]
    local seq = tonumber(string.sub(m, 1, 16), 16)
    local klen = tonumber(string.sub(m, 17, 24), 16)
    local key = string.sub(m, 25, 24 + klen)
    if not (tonumber(batch[i + 1]) == afterOffset and seq <= afterSeq) and redis.call('SISMEMBER', KEYS[2], key) == 0 then
      out[#out + 1] = m
      out[#out + 1] = batch[i + 1]
      if #out >= 2 * limit then return out end
    end
  end
  if #batch < 2 * chunk then return out end
  pos = pos + chunk
end
