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

// TestRedisCouponClaimWaitsForReplicas: a claim no replica confirms is ErrUnavailable (ErrNotReplicated);
// it took its unit on the primary, so the retry is a duplicate, the unit is not taken twice, and the
// claim's code is in the user's coupons once the retry has run.
func TestRedisCouponClaimWaitsForReplicas(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	ctx := context.Background()
	waiting := NewRedisStore(rdb, RedisConfig{Prefix: prefix, Wait: redisack.Wait{Replicas: 1, Timeout: 20 * time.Millisecond}})
	plain := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	now := time.Now()
	if err := plain.CreateCoupon(ctx, "s1", Coupon{ID: "c1", Title: "Any order", Stock: 2, OpensAt: now.Add(-time.Second), ExpiresAt: now.Add(time.Hour)}, "SHOP-AAA1", "SHOP-BBB2"); err != nil {
		t.Fatal(err)
	}
	_, _, err := waiting.ClaimCoupon(ctx, "s1", "c1", "ann", "", now)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, redisack.ErrNotReplicated) {
		t.Fatalf("a claim no replica confirmed: %v, want ErrUnavailable caused by ErrNotReplicated", err)
	}
	if _, _, err := plain.ClaimCoupon(ctx, "s1", "c1", "ann", "", now); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the retry of the unconfirmed claim: %v, want ErrDuplicate", err)
	}
	c, _, err := plain.ClaimCoupon(ctx, "s1", "c1", "bob", "", now)
	if err != nil || c.Remaining != 0 {
		t.Fatalf("bob's claim: remaining %d, %v; want the last unit (ann's claim took one, once)", c.Remaining, err)
	}
	mine, err := plain.UserCoupons(ctx, "ann", 10)
	if err != nil || len(mine) != 1 {
		t.Fatalf("ann's coupons after the retry: %v, %v; want one", mine, err)
	}
}
