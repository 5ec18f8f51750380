package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisPresenceConfig configures a RedisPresence.
type RedisPresenceConfig struct {
	// Prefix starts every key: one hash per stream, Prefix+"presence:{"+stream+"}". "" → "kudos:".
	Prefix string
	// Expiry is how long a node's count stays in the sum after its last Set. It must exceed the hubs' Set
	// period (500 ms) by a margin for slow ticks. 0 → 5s.
	Expiry time.Duration
}

// RedisPresence is the Presence shared by several nodes through Redis.
//
// Each stream has a hash, field node → "viewers:expiresAtUnixMs". Set writes this node's field and pushes
// the hash's own expiry out, so the whole key disappears when every node has gone; Count sums the fields
// not yet expired and deletes the others, so a node that died ages out within Expiry. Both run as scripts
// that read the clock of the Redis server (TIME), so clock skew between nodes does not matter.
type RedisPresence struct {
	rdb    redis.UniversalClient
	prefix string
	expiry time.Duration
}

var _ Presence = (*RedisPresence)(nil)

// NewRedisPresence returns a RedisPresence over rdb. The caller owns rdb and closes it.
func NewRedisPresence(rdb redis.UniversalClient, cfg RedisPresenceConfig) *RedisPresence {
	if cfg.Prefix == "" {
		cfg.Prefix = "kudos:"
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 5 * time.Second
	}
	return &RedisPresence{rdb: rdb, prefix: cfg.Prefix, expiry: cfg.Expiry}
}

func (p *RedisPresence) key(stream string) string { return p.prefix + "presence:{" + stream + "}" }

// presenceSetScript: KEYS the hash; ARGV node, viewers, expiry in ms.
var presenceSetScript = redis.NewScript(`
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// presenceCountScript: KEYS the hash. Sums live fields and deletes expired or malformed ones.
var presenceCountScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, ':', 1, true)
  local n, exp
  if sep then
    n = tonumber(string.sub(v, 1, sep - 1))
    exp = tonumber(string.sub(v, sep + 1))
  end
  if n and exp and exp > now then
    sum = sum + n
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return sum
`)

// Set implements Presence.
func (p *RedisPresence) Set(ctx context.Context, stream, node string, viewers int) error {
	if err := presenceSetScript.Run(ctx, p.rdb, []string{p.key(stream)}, node, viewers, p.expiry.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("set presence of %s in %s: %w", node, stream, err)
	}
	return nil
}

// Count implements Presence.
func (p *RedisPresence) Count(ctx context.Context, stream string) (int, error) {
	n, err := presenceCountScript.Run(ctx, p.rdb, []string{p.key(stream)}).Int()
	if err != nil {
		return 0, fmt.Errorf("count presence in %s: %w", stream, err)
	}
	return n, nil
}
