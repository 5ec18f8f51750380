package rewards

import (
	"testing"

	"github.com/kudos-live/kudos/internal/testenv"
)

// newTestRedisStore returns a RedisStore on the test Redis under a key prefix of its own (see testenv.Redis).
func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

func TestRedisStoreConformance(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runStoreConformance(t, newTestRedisStore)
}
