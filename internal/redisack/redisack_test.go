package redisack_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/kudos-live/kudos/internal/testenv"
)

var setScript = redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]`)

// TestRunWaitsForTheReplica runs a script through the shared Sentinel group's primary with WAIT 1: the
// value is on the replica as soon as Run returns, also after the script cache was flushed (NOSCRIPT) and
// for a write that changes nothing (a replay); asking for more replicas than there are is ErrNotReplicated,
// with the write still on the primary.
func TestRunWaitsForTheReplica(t *testing.T) {
	g := testenv.SharedSentinel(t)
	ctx := context.Background()
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.Master, SentinelAddrs: g.Sentinels})
	defer rdb.Close()
	replica := redis.NewClient(&redis.Options{Addr: g.Replicas[0]})
	defer replica.Close()
	direct := redis.NewClient(&redis.Options{Addr: g.Primary})
	t.Cleanup(func() { _ = direct.Close() }) // after Prefix's cleanup deleted the keys
	prefix := testenv.Prefix(t, direct)
	one := redisack.Wait{Replicas: 1, Timeout: time.Second}

	for i, flush := range []bool{true, false, false} {
		if flush {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		key := prefix + "k"
		want := "v1"
		if i == 0 {
			want = "v0"
		}
		got, err := redisack.Run(ctx, rdb, one, setScript, []string{key}, want).Text()
		if err != nil || got != want {
			t.Fatalf("run %d: %q, %v", i, got, err)
		}
		// No wait here: WAIT said the replica holds it.
		if v, err := replica.Get(ctx, key).Result(); err != nil || v != want {
			t.Fatalf("run %d: the replica holds %q, %v right after the ack; want %q", i, v, err, want)
		}
	}

	three := redisack.Wait{Replicas: 3, Timeout: 50 * time.Millisecond}
	start := time.Now()
	got, err := redisack.Run(ctx, rdb, three, setScript, []string{prefix + "three"}, "x").Text()
	if !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("WAIT 3 with one replica: %q, %v; want ErrNotReplicated", got, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("WAIT 3 returned after %s, before its 50ms timeout", d)
	}
	if v, err := rdb.Get(ctx, prefix+"three").Result(); err != nil || v != "x" {
		t.Errorf("the unconfirmed write on the primary: %q, %v (it was applied, only not confirmed)", v, err)
	}
}

// TestRunWithoutReplicas: no wait runs the script alone, and a wait on an instance without replicas is
// ErrNotReplicated.
func TestRunWithoutReplicas(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	if got, err := redisack.Run(ctx, rdb, redisack.Wait{}, setScript, []string{prefix + "a"}, "1").Text(); err != nil || got != "1" {
		t.Fatalf("no wait: %q, %v", got, err)
	}
	_, err := redisack.Run(ctx, rdb, redisack.Wait{Replicas: 1, Timeout: 20 * time.Millisecond}, setScript, []string{prefix + "b"}, "2").Text()
	if !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("WAIT 1 on an instance without replicas: %v, want ErrNotReplicated", err)
	}
}

var noopScript = redis.NewScript(`return redis.call('GET', KEYS[1])`)

// TestReplayWaitsForTheOriginalWrite: with the replica paused, a script that writes nothing (a retry
// finding its work done), sent on a connection whose own writes the replica already holds, is not confirmed
// while the replica lacks an earlier write by another connection; once the replica is back, it is. (On
// Redis 7.0 this holds with or without Run's PUBLISH, which is there for servers that note a connection's
// offset only after commands that replicate.)
func TestReplayWaitsForTheOriginalWrite(t *testing.T) {
	g := testenv.StartSentinelGroup(t, 1)
	ctx := context.Background()
	writer := redis.NewClient(&redis.Options{Addr: g.Primary})
	defer writer.Close()
	replay := redis.NewClient(&redis.Options{Addr: g.Primary, PoolSize: 1}) // one connection
	defer replay.Close()
	// Load the scripts while the replica follows, and let it confirm: no NOSCRIPT reload later, and the
	// replay's connection has nothing the replica lacks.
	long := redisack.Wait{Replicas: 1, Timeout: 2 * time.Second}
	if err := redisack.Run(ctx, writer, long, setScript, []string{"k"}, "v0").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := redisack.Run(ctx, replay, long, noopScript, []string{"k"}).Text(); err != nil || got != "v0" {
		t.Fatalf("the replay's script before the pause: %q, %v", got, err)
	}

	g.Pause(t, g.Replicas[0])
	short := redisack.Wait{Replicas: 1, Timeout: 100 * time.Millisecond}
	// The original write, as a caller without a wait makes it (its own WAIT would make the primary ask the
	// replicas for an ack, which moves the replication offset again and hides the case).
	if err := redisack.Run(ctx, writer, redisack.Wait{}, setScript, []string{"k"}, "v1").Err(); err != nil {
		t.Fatal(err)
	}
	cmd := redisack.Run(ctx, replay, short, noopScript, []string{"k"})
	if !errors.Is(cmd.Err(), redisack.ErrNotReplicated) {
		t.Fatalf("a replay with the replica paused: %v, %v; want ErrNotReplicated (the write it reads is not on the replica)", cmd.Val(), cmd.Err())
	}
	if cmd.Val() != "v1" {
		t.Errorf("the replay read %v, want v1 (the reply is kept with the error)", cmd.Val())
	}
	g.Resume(t, g.Replicas[0])
	if got, err := redisack.Run(ctx, replay, long, noopScript, []string{"k"}).Text(); err != nil || got != "v1" {
		t.Fatalf("the replay with the replica back: %q, %v", got, err)
	}
}

// TestRunWaitsOnTheClusterSlotsPrimary: on the test Redis Cluster (one replica per primary) a script run with
// WAIT 1 goes with its WAIT to the primary of its keys' slot, whose replica confirms it; asking for two
// replicas is ErrNotReplicated, with the write done.
func TestRunWaitsOnTheClusterSlotsPrimary(t *testing.T) {
	rdb, prefix := testenv.RedisCluster(t)
	ctx := context.Background()
	for i, key := range []string{prefix + "{a}k", prefix + "{b}k", prefix + "{c}k"} {
		got, err := redisack.Run(ctx, rdb, redisack.Wait{Replicas: 1, Timeout: 2 * time.Second}, setScript, []string{key}, "v").Text()
		if err != nil || got != "v" {
			t.Fatalf("key %d: %q, %v; want v confirmed by one replica", i, got, err)
		}
	}
	key := prefix + "{d}k"
	_, err := redisack.Run(ctx, rdb, redisack.Wait{Replicas: 2, Timeout: 50 * time.Millisecond}, setScript, []string{key}, "w").Result()
	if !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("two replicas asked of a primary with one: %v, want ErrNotReplicated", err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "w" {
		t.Fatalf("the write: %q, %v; want it done on the primary", v, err)
	}
}
