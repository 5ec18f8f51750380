package rewards

import (
	"testing"

	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisClusterStoreConformance runs the one store suite on the test's 3-primary Redis Cluster: every
// script touches keys of one hash slot (a cluster refuses the others with CROSSSLOT), and the steps that
// span slots (award-key claims, leaderboards, reward holds, gift claims) keep the contract there too.
func TestRedisClusterStoreConformance(t *testing.T) {
	newStore := func(t *testing.T) Store {
		rdb, prefix := testenv.RedisCluster(t)
		return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	}
	newStore(t) // skip or fail once, up front
	runStoreConformance(t, newStore)
}

// TestLedgerShardsSpreadOverTheCluster: users spread over every primary of the test cluster (their shard tags
// hash to slots of all three), so one busy ledger is not one busy Redis node.
func TestLedgerShardsSpreadOverTheCluster(t *testing.T) {
	s := NewRedisStore(nil, RedisConfig{})
	slots := map[int]bool{}
	for sh := range LedgerShards {
		slots[testenv.KeySlot(s.skey(sh, "outbox"))] = true
	}
	if len(slots) != LedgerShards {
		t.Fatalf("%d shards hash to %d slots, want one slot each", LedgerShards, len(slots))
	}
	thirds := map[int]int{}
	for slot := range slots {
		thirds[slot*3/16384]++
	}
	for i := range 3 {
		if thirds[i] < LedgerShards/5 {
			t.Fatalf("shards per third of the slots: %v; want each third to hold at least %d", thirds, LedgerShards/5)
		}
	}
	if testenv.KeySlot(s.ukey("alice", "acct")) != testenv.KeySlot(s.skey(shardOf("alice"), "due:settle")) ||
		testenv.KeySlot(s.recordKey("alice", "order:1")) != testenv.KeySlot(s.ukey("alice", "entries")) ||
		testenv.KeySlot(s.ukey("a}b{c", "acct")) != testenv.KeySlot(s.ukey("a}b{c", "out")) {
		t.Fatal("a user's keys, records and shard indexes must share one slot")
	}
}
