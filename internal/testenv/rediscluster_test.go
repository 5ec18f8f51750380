package testenv

import (
	"context"
	"testing"
)

// TestKeySlotKnown: the CRC16 check value of "123456789" (0x31C3) and the hash-tag rules of the cluster
// specification (the first '{' with a non-empty '}' after it; otherwise the whole key).
func TestKeySlotKnown(t *testing.T) {
	if got := KeySlot("123456789"); got != 0x31C3 {
		t.Errorf("KeySlot(123456789) = %d, want %d", got, 0x31C3)
	}
	same := [][2]string{
		{"{user1000}.following", "{user1000}.followers"},
		{"kudos:stream:{s1}", "kudos:stream:{s1}:likes"},
		{"foo{bar}{zap}", "bar"},
		{"{}x", "{}x"},
	}
	for _, p := range same {
		if KeySlot(p[0]) != KeySlot(p[1]) {
			t.Errorf("%q and %q in slots %d and %d, want one", p[0], p[1], KeySlot(p[0]), KeySlot(p[1]))
		}
	}
	if KeySlot("{}a") == KeySlot("a") || KeySlot("{}a") != KeySlot("{}a") {
		t.Error("an empty hash tag must hash the whole key")
	}
}

// TestKeySlotMatchesCluster compares KeySlot with the cluster's own CLUSTER KEYSLOT.
func TestKeySlotMatchesCluster(t *testing.T) {
	rdb, prefix := RedisCluster(t)
	ctx := context.Background()
	for _, k := range []string{"a", "kudos:stream:{s1}:likes", prefix + "user:{ann}:streams", "{}x", "x{}{y}", "{a", "a}", "kudos:rw:acct:bob", "ünïcode{日本}"} {
		want, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if got := KeySlot(k); int64(got) != want {
			t.Errorf("KeySlot(%q) = %d, the cluster says %d", k, got, want)
		}
	}
}
