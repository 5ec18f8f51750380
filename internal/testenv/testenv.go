// Package testenv finds the real servers that tests need: the Redis and the Kafka broker that
// scripts/test.sh starts and announces in KUDOS_TEST_* variables. Without them a test is skipped on a
// developer's machine, and fails under CI=true, where a missing server is a broken run, never a pass.
// Only tests import it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Lookup returns the value of the environment variable name, skipping tb without it (failing under CI=true).
func Lookup(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set, and CI=true requires it: run the tests with bash scripts/test.sh", name)
		}
		tb.Skipf("%s is not set (bash scripts/test.sh starts the servers and sets it)", name)
	}
	return v
}

// RedisURL returns the test Redis (KUDOS_TEST_REDIS_URL).
func RedisURL(tb testing.TB) string { return Lookup(tb, "KUDOS_TEST_REDIS_URL") }

// RedisServerBin returns the redis-server binary for tests that run their own (KUDOS_TEST_REDIS_SERVER_BIN).
func RedisServerBin(tb testing.TB) string { return Lookup(tb, "KUDOS_TEST_REDIS_SERVER_BIN") }

// KafkaBrokers returns the test broker addresses (KUDOS_TEST_KAFKA_BROKERS).
func KafkaBrokers(tb testing.TB) []string {
	return strings.Split(Lookup(tb, "KUDOS_TEST_KAFKA_BROKERS"), ",")
}

// Redis returns a client of the test Redis, pinged, and a key prefix of the test's own. When the test ends
// the prefix's keys (only those: tests share the server) are deleted and the client is closed.
func Redis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := RedisURL(tb)
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("parse KUDOS_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		tb.Fatalf("ping the test Redis: %v", err)
	}
	tb.Cleanup(func() { _ = rdb.Close() }) // registered first, so it runs after the keys are deleted
	return rdb, Prefix(tb, rdb)
}

// Prefix returns a fresh key prefix ("kudostest:<random>:") whose keys are deleted from rdb when tb ends.
func Prefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "kudostest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("delete test keys: %v", err)
			}
		}
	})
	return prefix
}
