package stream

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/kudos-live/kudos/internal/testenv"
)

// twoClusterNodes returns two clients of the test Redis Cluster, as two Kudos nodes have, and a shared prefix.
func twoClusterNodes(t *testing.T) (a, b *redis.ClusterClient, prefix string) {
	t.Helper()
	a, prefix = testenv.RedisCluster(t)
	b = redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisClusterAddrs(t)})
	t.Cleanup(func() { _ = b.Close() })
	return a, b, prefix
}

func newClusterFanout(t *testing.T, rdb *redis.ClusterClient, prefix string) *RedisFanout {
	t.Helper()
	f := newTestRedisFanout(t, nil, prefix, rdb)
	if !f.Sharded() {
		t.Fatal("a fan-out over a cluster client does not use sharded Pub/Sub")
	}
	return f
}

func TestRedisClusterFanoutConformance(t *testing.T) {
	testenv.RedisClusterAddrs(t)
	runFanoutConformance(t, func(t *testing.T) (Fanout, Fanout) {
		ra, rb, prefix := twoClusterNodes(t)
		return newClusterFanout(t, ra, prefix), newClusterFanout(t, rb, prefix)
	})
}

func TestRedisClusterPresenceConformance(t *testing.T) {
	testenv.RedisClusterAddrs(t)
	runPresenceConformance(t, func(t *testing.T) (Presence, Presence) {
		ra, rb, prefix := twoClusterNodes(t)
		return NewRedisPresence(ra, RedisPresenceConfig{Prefix: prefix}), NewRedisPresence(rb, RedisPresenceConfig{Prefix: prefix})
	})
}

// TestRedisClusterFanoutShards checks that streams owned by different primaries reach the other node, and that
// each stream's subscription is a sharded one held by the primary that owns its channel's slot, and by no
// other primary (a plain SUBSCRIBE would be on a random node and see every PUBLISH of the cluster).
func TestRedisClusterFanoutShards(t *testing.T) {
	ra, rb, prefix := twoClusterNodes(t)
	a, b := newClusterFanout(t, ra, prefix), newClusterFanout(t, rb, prefix)
	ctx := context.Background()

	// Streams until two primaries own one each.
	owner := func(stream string) string {
		t.Helper()
		c, err := ra.MasterForKey(ctx, a.channel(stream))
		if err != nil {
			t.Fatalf("the primary of %s: %v", stream, err)
		}
		return c.Options().Addr
	}
	streams := map[string]string{} // primary → stream
	for i := 0; len(streams) < 2 && i < 100; i++ {
		s := fmt.Sprintf("shard%d", i)
		if o := owner(s); streams[o] == "" {
			streams[o] = s
		}
	}
	if len(streams) < 2 {
		t.Fatalf("100 streams all on one primary: %v", streams)
	}
	collectors := map[string]*collector{}
	for _, s := range streams {
		c := newCollector()
		collectors[s] = c
		subscribe(t, a, s, c)
	}
	for _, s := range streams {
		publish(t, b, Message{Stream: s, Payload: []byte("to " + s)})
	}
	for s, c := range collectors {
		c.waitFor(t, "the message of "+s, hasPayload("to "+s))
		if got := len(c.snapshot()); got != 1 {
			t.Errorf("%s got %d messages, want 1 (its own)", s, got)
		}
	}
	for primary, s := range streams {
		ch := a.channel(s)
		err := ra.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			shard, err := c.PubSubShardNumSub(ctx, ch).Result()
			if err != nil {
				return err
			}
			plain, err := c.PubSubNumSub(ctx, ch).Result()
			if err != nil {
				return err
			}
			want := int64(0)
			if c.Options().Addr == primary {
				want = 1
			}
			if shard[ch] != want || plain[ch] != 0 {
				return fmt.Errorf("%s on %s: %d sharded and %d plain subscribers, want %d and 0", ch, c.Options().Addr, shard[ch], plain[ch], want)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// TestRedisClusterFanoutClose checks that Close stops every shard's reader (and go-redis's goroutines), and
// that a cancelled stream's subscription is gone from its shard.
func TestRedisClusterFanoutClose(t *testing.T) {
	addrs := testenv.RedisClusterAddrs(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	ctx := context.Background()
	f := NewRedisFanout(rdb, RedisFanoutConfig{Prefix: "kudostest:clusterclose:"})
	c := newCollector()
	var cancels []func()
	for _, s := range []string{"s1", "s2", "s3"} {
		cancel, err := f.Subscribe(ctx, s, c.handle)
		if err != nil {
			t.Fatalf("Subscribe %s: %v", s, err)
		}
		cancels = append(cancels, cancel)
	}
	publish(t, f, Message{Stream: "s2", Payload: []byte("x")})
	c.waitFor(t, "message before close", hasPayload("x"))
	cancels[0]()
	primary, err := rdb.MasterForKey(ctx, f.channel("s1"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := primary.PubSubShardNumSub(ctx, f.channel("s1")).Result(); err != nil || n[f.channel("s1")] != 0 {
		t.Errorf("s1 after cancel: %v sharded subscribers, %v; want 0", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, cancel := range cancels[1:] {
		cancel() // after Close: harmless
	}
}

// TestRedisClusterFanoutSlotMoves moves a stream's slot to another primary of a private cluster, as a
// resharding or a failover does: the old owner ends the sharded subscription (SUNSUBSCRIBE), the fan-out
// subscribes again at the new owner, and messages published afterwards arrive.
func TestRedisClusterFanoutSlotMoves(t *testing.T) {
	pc := testenv.StartRedisCluster(t, 3)
	client := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: pc.Addrs})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	const prefix = "kudostest:move:"
	a, b := newClusterFanout(t, client(), prefix), newClusterFanout(t, client(), prefix)
	ch := a.channel("moving")
	slot := testenv.KeySlot(ch)
	from := pc.Owner(slot)
	to := (from + 1) % 3
	c := newCollector()
	subscribe(t, a, "moving", c)
	publish(t, b, Message{Stream: "moving", Payload: []byte("before")})
	c.waitFor(t, "the message before the move", hasPayload("before"))

	pc.MoveSlot(t, slot, from, to)
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		// SPUBLISH from b follows the MOVED answer to the new owner.
		if err := b.Publish(ctx, Message{Stream: "moving", Payload: []byte(fmt.Sprint("after-", i))}); err != nil {
			t.Logf("publish after the move: %v", err)
		}
		got := false
		for _, m := range c.snapshot() {
			if strings.HasPrefix(string(m.Payload), "after-") {
				got = true
			}
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message after the slot moved from %s to %s: the subscription was not renewed", pc.Addrs[from], pc.Addrs[to])
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, addr := range pc.Addrs {
		n := redis.NewClient(&redis.Options{Addr: addr})
		subs, err := n.PubSubShardNumSub(ctx, ch).Result()
		_ = n.Close()
		want := int64(0)
		if i == to {
			want = 1
		}
		if err != nil || subs[ch] != want {
			t.Errorf("%s (owner now %s): %v sharded subscribers of %s, %v; want %d", addr, pc.Addrs[to], subs[ch], ch, err, want)
		}
	}
}
