package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisClusterAddrs returns the nodes of the test Redis Cluster (KUDOS_TEST_REDIS_CLUSTER).
func RedisClusterAddrs(tb testing.TB) []string {
	return strings.Split(Lookup(tb, "KUDOS_TEST_REDIS_CLUSTER"), ",")
}

// RedisCluster returns a client of the test Redis Cluster, pinged, and a key prefix of the test's own.
// When the test ends the prefix's keys are deleted from every primary and the client is closed.
func RedisCluster(tb testing.TB) (*redis.ClusterClient, string) {
	tb.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: RedisClusterAddrs(tb)})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		tb.Fatalf("ping the test Redis Cluster: %v", err)
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "kudostest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
			for iter.Next(ctx) {
				// One key at a time: keys of several slots in one DEL is CROSSSLOT.
				if err := c.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		})
		if err != nil {
			tb.Errorf("delete test keys: %v", err)
		}
	})
	return rdb, prefix
}

// KeySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the key, or of its hash tag (the text
// between the first '{' and the next '}', if that is not empty), modulo 16384.
func KeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// SlotGuard is a go-redis hook that records every Lua script call (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO) whose
// keys lie in more than one hash slot, which a Redis Cluster refuses (CROSSSLOT). It works on one instance
// too, so a single-instance suite catches a script that would fail on a cluster. Scripts counts the calls
// checked, so a test can tell that the guard saw any.
type SlotGuard struct {
	mu         sync.Mutex
	scripts    int
	violations []string
}

var _ redis.Hook = (*SlotGuard)(nil)

// DialHook implements redis.Hook.
func (g *SlotGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (g *SlotGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.check(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (g *SlotGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			g.check(c)
		}
		return next(ctx, cmds)
	}
}

func (g *SlotGuard) check(cmd redis.Cmder) {
	switch cmd.Name() {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
	default:
		return
	}
	args := cmd.Args()
	if len(args) < 3 {
		return
	}
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(args[2]), &n); err != nil || len(args) < 3+n {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scripts++
	slots := map[int]bool{}
	var keys []string
	for _, k := range args[3 : 3+n] {
		key := fmt.Sprint(k)
		keys = append(keys, key)
		slots[KeySlot(key)] = true
	}
	if len(slots) > 1 {
		g.violations = append(g.violations, fmt.Sprintf("a script's keys lie in %d hash slots: %s", len(slots), strings.Join(keys, " ")))
	}
}

// Scripts returns how many script calls the guard checked.
func (g *SlotGuard) Scripts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.scripts
}

// Violations returns the script calls whose keys spanned several slots, in order.
func (g *SlotGuard) Violations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.violations...)
}
