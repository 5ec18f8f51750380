package engagement

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/redisack"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestRedisVoteWaitsForReplicas: with RedisConfig.Wait a vote that no replica confirms (the test Redis has
// none) is ErrUnavailable, the cause ErrNotReplicated; it was applied on the primary, so the voter's retry
// is a duplicate and the vote counts once.
func TestRedisVoteWaitsForReplicas(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	waiting := NewRedisStore(rdb, RedisConfig{Prefix: prefix, Wait: redisack.Wait{Replicas: 1, Timeout: 20 * time.Millisecond}})
	plain := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	now := time.Now()
	if err := plain.OpenPoll(ctx, "s1", Poll{ID: "p1", Question: "Q?", Options: []string{"a", "b"}, Status: PollOpen, OpensAt: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	_, err := waiting.VotePoll(ctx, "s1", "p1", "u1", 0, now)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("a vote no replica confirmed: %v, want ErrUnavailable caused by ErrNotReplicated", err)
	}
	if _, err := plain.VotePoll(ctx, "s1", "p1", "u1", 0, now); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the retry of the unconfirmed vote: %v, want ErrDuplicate (it was applied on the primary)", err)
	}
	p, err := plain.Poll(ctx, "s1", "p1")
	if err != nil || p.Total != 1 {
		t.Fatalf("poll total %d, %v; want 1", p.Total, err)
	}
}
