package engagement

import (
	"context"
	"testing"
	"time"
)

// TestRedisTimelineHiddenRenewedWithTimeline: the set of hidden replay items lives as long as the timeline it
// hides. It used to be renewed only by a hide, so a timeline appended to for longer than its lifetime after
// the last hide outlived the set, and a hidden comment came back in the replay.
func TestRedisTimelineHiddenRenewedWithTimeline(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix})
	noErr(t, s.HideTimeline(ctx, "s1", "comment:c1"))
	_, _, _, hidden := s.timelineKeys("s1")
	noErr(t, rdb.PExpire(ctx, hidden, time.Second).Err()) // as if the hide were long ago
	if _, err := s.AppendTimeline(ctx, "s1", TimelineItem{OffsetMS: 5, Type: "likes", Data: []byte(`{"count":1}`), Key: "likes:5"}, 100); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, hidden).Result()
	noErr(t, err)
	if want := s.timelineTTL() - time.Minute; ttl < want {
		t.Fatalf("hidden set PTTL %v after an append, want at least %v (the timeline's)", ttl, want)
	}
}
