package rewards

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisAwardWaitsForReplicas: an award no replica confirms (the test Redis has none) is an error
// wrapping ErrNotReplicated, never a result; it was applied on the primary, and the award queue's retry of
// the same key replays it without granting twice.
func TestRedisAwardWaitsForReplicas(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	clock := testenv.NewClock(t0)
	waiting := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix, Wait: redisack.Wait{Replicas: 1, Timeout: 20 * time.Millisecond}}), clock, nil)
	plain := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), clock, nil)
	ctx := context.Background()
	a := Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true}
	if res, err := waiting.Award(ctx, a); !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("an award no replica confirmed: %+v, %v; want ErrNotReplicated", res, err)
	}
	res, err := plain.Award(ctx, a)
	if err != nil || res.Applied || res.Balance != 5 {
		t.Fatalf("the retry: %+v, %v; want a replay with balance 5", res, err)
	}
}

// TestRedisAwardOnReplica: with the shared Sentinel group and a wait of one replica, an acknowledged award
// is on the replica when Award returns.
func TestRedisAwardOnReplica(t *testing.T) {
	g := testenv.SharedSentinel(t)
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.Master, SentinelAddrs: g.Sentinels})
	t.Cleanup(func() { _ = rdb.Close() })
	direct := redis.NewClient(&redis.Options{Addr: g.Primary})
	t.Cleanup(func() { _ = direct.Close() })
	prefix := testenv.Prefix(t, direct)
	replica := redis.NewClient(&redis.Options{Addr: g.Replicas[0]})
	t.Cleanup(func() { _ = replica.Close() })
	l := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix, Wait: redisack.Wait{Replicas: 1, Timeout: time.Second}}), testenv.NewClock(t0), nil)
	ctx := context.Background()
	for i, key := range []string{"poll:p1:u", "poll:p2:u", "poll:p3:u"} {
		if _, err := l.Award(ctx, Award{Key: key, User: "u", Stream: "s", Points: 5, Participation: true}); err != nil {
			t.Fatalf("award %s: %v", key, err)
		}
		if b, err := replica.HGet(ctx, NewRedisStore(rdb, RedisConfig{Prefix: prefix}).ukey("u", "acct"), "balance").Int(); err != nil || b != 5*(i+1) {
			t.Fatalf("the replica's balance right after award %d: %d, %v; want %d", i+1, b, err, 5*(i+1))
		}
	}
}
