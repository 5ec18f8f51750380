package rewards

import (
	"context"
	"strings"
	"testing"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisLedgerNotClusterReady pins down why the server refuses a Redis Cluster (errLedgerNotClusterReady
// in cmd/kudos): on a real cluster an award's script is refused (CROSSSLOT), because its keys (the user's
// account, the award record, the stream's leaderboard, the due indexes, the outbox) lie in several hash
// slots. When the ledger's layout is made cluster-ready this test fails: run the conformance suite on the
// cluster instead, and lift the refusal.
func TestRedisLedgerNotClusterReady(t *testing.T) {
	rdb, prefix := testenv.RedisCluster(t)
	l := newTestLedger(t, NewRedisStore(rdb, RedisConfig{Prefix: prefix}), testenv.NewClock(t0), nil)
	_, err := l.Award(context.Background(), Award{Key: "poll:p1:u", User: "u", Stream: "s", Points: 5, Participation: true})
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("an award on the cluster: err = %v, want CROSSSLOT (if the ledger is cluster-ready now, lift errLedgerNotClusterReady)", err)
	}
}
