package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

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

// SlotGuard is a go-redis hook that records every Lua script call (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO), and
// every MULTI/EXEC transaction, whose keys lie in more than one hash slot, which a Redis Cluster refuses
// (CROSSSLOT). It works on one instance
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
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			g.checkTx(cmds)
		}
		return next(ctx, cmds)
	}
}

// checkTx records a MULTI/EXEC transaction whose commands name keys of more than one slot, which a cluster
// refuses as well. A command's key is taken to be its first argument (true of every keyed command the
// stores send in a transaction); commands without a key are left out.
func (g *SlotGuard) checkTx(cmds []redis.Cmder) {
	slots := map[int]bool{}
	var keys []string
	for _, c := range cmds {
		switch c.Name() {
		case "multi", "exec", "discard", "ping", "eval", "evalsha", "eval_ro", "evalsha_ro": // scripts: check
			continue
		}
		if args := c.Args(); len(args) > 1 {
			key := fmt.Sprint(args[1])
			keys = append(keys, key)
			slots[KeySlot(key)] = true
		}
	}
	if len(slots) > 1 {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.violations = append(g.violations, fmt.Sprintf("a transaction's keys lie in %d hash slots: %s", len(slots), strings.Join(keys, " ")))
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

// PrivateCluster is a Redis Cluster of the test's own (StartRedisCluster), for faults that must not touch the
// shared test cluster: moving a slot, failing a primary over.
type PrivateCluster struct {
	Addrs []string // the primaries, in the order their slot ranges follow
	IDs   []string // their node ids, in the same order
}

// StartRedisCluster starts n cluster-enabled redis-servers (KUDOS_TEST_REDIS_SERVER_BIN, no replicas, no
// persistence), splits the 16384 slots between them in order, joins them and waits for cluster_state:ok on
// every node. They are stopped at cleanup.
func StartRedisCluster(tb testing.TB, n int) *PrivateCluster {
	tb.Helper()
	bin := RedisServerBin(tb)
	pc := &PrivateCluster{}
	var buses []string
	dir := tb.TempDir()
	for i := 0; i < n; i++ {
		addr, bus := FreeAddr(tb), FreeAddr(tb)
		_, port, _ := strings.Cut(addr, ":")
		_, busPort, _ := strings.Cut(bus, ":")
		nodeDir := fmt.Sprintf("%s/%d", dir, i)
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--cluster-enabled", "yes", "--cluster-port", busPort,
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--dir", nodeDir, "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		pc.Addrs = append(pc.Addrs, addr)
		buses = append(buses, busPort)
	}
	ctx := context.Background()
	clients := make([]*redis.Client, n)
	for i, addr := range pc.Addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		clients[i] = c
		for try := 0; ; try++ {
			id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
			if err == nil {
				pc.IDs = append(pc.IDs, id)
				break
			}
			if try == 100 {
				tb.Fatalf("cluster node %s did not start: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			tb.Fatalf("CLUSTER ADDSLOTSRANGE on %s: %v", addr, err)
		}
	}
	for i := 1; i < n; i++ {
		host, port, _ := strings.Cut(pc.Addrs[i], ":")
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, buses[i]).Err(); err != nil {
			tb.Fatalf("CLUSTER MEET %s: %v", pc.Addrs[i], err)
		}
	}
	for try := 0; ; try++ {
		ok := true
		for _, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				ok = false
				break
			}
		}
		if ok {
			return pc
		}
		if try == 200 {
			tb.Fatalf("the private cluster %v did not reach cluster_state:ok", pc.Addrs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MoveSlot gives slot (empty of keys) from primary from to primary to, as a resharding does: IMPORTING and
// MIGRATING, then the new owner announced to every node. The old owner drops the slot's sharded
// subscriptions (its clients get SUNSUBSCRIBE).
func (pc *PrivateCluster) MoveSlot(tb testing.TB, slot, from, to int) {
	tb.Helper()
	ctx := context.Background()
	do := func(i int, args ...any) {
		c := redis.NewClient(&redis.Options{Addr: pc.Addrs[i]})
		defer c.Close()
		if err := c.Do(ctx, args...).Err(); err != nil {
			tb.Fatalf("%v on %s: %v", args, pc.Addrs[i], err)
		}
	}
	do(to, "CLUSTER", "SETSLOT", slot, "IMPORTING", pc.IDs[from])
	do(from, "CLUSTER", "SETSLOT", slot, "MIGRATING", pc.IDs[to])
	do(from, "CLUSTER", "SETSLOT", slot, "NODE", pc.IDs[to])
	do(to, "CLUSTER", "SETSLOT", slot, "NODE", pc.IDs[to])
	for i := range pc.Addrs {
		if i != from && i != to {
			do(i, "CLUSTER", "SETSLOT", slot, "NODE", pc.IDs[to])
		}
	}
}

// Owner returns the index of the primary serving slot, by the ranges StartRedisCluster assigned (before any
// MoveSlot).
func (pc *PrivateCluster) Owner(slot int) int {
	n := len(pc.Addrs)
	for i := 0; i < n; i++ {
		if slot <= (i+1)*16384/n-1 {
			return i
		}
	}
	return n - 1
}
