package rewards

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// newTestRedisStore returns a RedisStore on KUDOS_TEST_REDIS_URL under a key prefix of its own, and deletes
// that prefix's keys (only those) when the test ends. Without the variable the test is skipped, unless CI=true.
func newTestRedisStore(t *testing.T) Store {
	t.Helper()
	url := os.Getenv("KUDOS_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUDOS_TEST_REDIS_URL is not set, and CI=true requires Redis")
		}
		t.Skip("KUDOS_TEST_REDIS_URL is not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse KUDOS_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping redis: %v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "kudos:rw:test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan test keys: %v", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete test keys: %v", err)
			}
		}
		_ = rdb.Close()
	})
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

func TestRedisStoreConformance(t *testing.T) {
	newTestRedisStore(t) // skip or fail once, up front
	runStoreConformance(t, newTestRedisStore)
}
