package engagement

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisClusterStoreSuite runs the store conformance suite on a real Redis Cluster of three primaries
// (scripts/test.sh starts it): every script and transaction must keep to the keys of one hash slot, or the
// cluster refuses it (CROSSSLOT). The slot guard names any script call whose keys span two slots.
func TestRedisClusterStoreSuite(t *testing.T) {
	testenv.RedisClusterAddrs(t) // skip or fail once, up front
	guard := &testenv.SlotGuard{}
	runStoreSuite(t, func(t *testing.T) (Store, func(time.Duration)) {
		rdb, prefix := testenv.RedisCluster(t)
		rdb.AddHook(guard)
		return NewRedisStore(rdb, RedisConfig{Prefix: prefix}), ageCluster(t, rdb, prefix)
	})
	checkSlotGuard(t, guard)
}

// checkSlotGuard fails t for every script call the guard saw span two hash slots, and if it saw no script
// at all (then it was not wired in, and proved nothing).
func checkSlotGuard(t *testing.T, guard *testenv.SlotGuard) {
	t.Helper()
	if guard.Scripts() == 0 {
		t.Error("the slot guard saw no script call")
	}
	for _, v := range guard.Violations() {
		t.Error(v)
	}
}

// ageCluster is ageRedis on every primary of the cluster (a script without keys runs where it is sent, and
// KEYS lists that node's keys only).
func ageCluster(t *testing.T, rdb *redis.ClusterClient, prefix string) func(time.Duration) {
	return func(d time.Duration) {
		t.Helper()
		err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
			return ageScript.Run(ctx, c, nil, prefix+"*", d.Milliseconds()).Err()
		})
		if err != nil {
			t.Fatalf("age the keys %s*: %v", prefix, err)
		}
	}
}

// TestSlotGuardCatchesCrossSlotScript proves the guard on one instance (which runs such a script happily):
// a script over keys of two streams is reported, one over two keys of one stream is not.
func TestSlotGuardCatchesCrossSlotScript(t *testing.T) {
	rdb, prefix := testRedis(t)
	guard := &testenv.SlotGuard{}
	rdb.AddHook(guard)
	ctx := context.Background()
	sc := redis.NewScript(`return #KEYS`)
	if err := sc.Run(ctx, rdb, []string{prefix + "stream:{a}", prefix + "stream:{a}:likes"}).Err(); err != nil {
		t.Fatal(err)
	}
	if v := guard.Violations(); len(v) != 0 {
		t.Fatalf("keys of one stream reported: %v", v)
	}
	if err := sc.Run(ctx, rdb, []string{prefix + "stream:{a}", prefix + "stream:{b}"}).Err(); err != nil {
		t.Fatal(err)
	}
	// The script was loaded by the first run, so the second is one EVALSHA: reported once.
	if v := guard.Violations(); len(v) != 1 || v[0] != "a script's keys lie in 2 hash slots: "+prefix+"stream:{a} "+prefix+"stream:{b}" {
		t.Fatalf("violations %q, want the script over two streams reported once", v)
	}
}

// TestSlotGuardCatchesCrossSlotTransaction: a MULTI over keys of one stream passes the guard, one over a
// stream's key and a user's is reported (as AddParticipant's was before it became a pipeline).
func TestSlotGuardCatchesCrossSlotTransaction(t *testing.T) {
	rdb, prefix := testRedis(t)
	guard := &testenv.SlotGuard{}
	rdb.AddHook(guard)
	ctx := context.Background()
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, prefix+"stream:{a}:likes")
		p.PExpire(ctx, prefix+"stream:{a}:likes", time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v := guard.Violations(); len(v) != 0 {
		t.Fatalf("a transaction on one stream reported: %v", v)
	}
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, prefix+"stream:{a}:audience", "ann")
		p.Set(ctx, prefix+"user:{ann}:last-stream", "a", time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v := guard.Violations(); len(v) != 1 || v[0] != "a transaction's keys lie in 2 hash slots: "+prefix+"stream:{a}:audience "+prefix+"user:{ann}:last-stream" {
		t.Fatalf("violations %q, want the transaction over a stream and a user reported", v)
	}
}
