package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newTestRedisExtrasStore(t *testing.T) ExtrasStore {
	t.Helper()
	rdb, prefix := testRedis(t)
	return NewRedisStore(rdb, RedisConfig{Prefix: prefix})
}

func TestRedisExtrasStoreConformance(t *testing.T) {
	newTestRedisExtrasStore(t) // skip or fail once, up front
	runExtrasStoreConformance(t, newTestRedisExtrasStore)
}

// TestRedisExtrasStoreTwoNodes checks the atomic rules when two nodes race: every one of 200 users upvotes
// twice, half of the calls on each node, and 8 notifications go to one user at once from both nodes.
func TestRedisExtrasStoreTwoNodes(t *testing.T) {
	a, b, _, _ := twoRedisNodes(t) // store_redis_host_test.go
	nodes := []*RedisStore{a, b}
	ctx := context.Background()

	t.Run("upvotes", func(t *testing.T) {
		if err := a.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10); err != nil {
			t.Fatal(err)
		}
		const users = 200
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, dups := 0, 0
		for i := range users * 2 {
			wg.Go(func() {
				_, err := nodes[i%2].UpvoteQuestion(ctx, "s1", "q1", fmt.Sprintf("u%03d", i/2))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted++
				case CodeOf(err) == CodeDuplicate:
					dups++
				default:
					t.Errorf("UpvoteQuestion: %v", err)
				}
			})
		}
		wg.Wait()
		if accepted != users || dups != users {
			t.Errorf("accepted %d, duplicates %d; want %d each", accepted, dups, users)
		}
		for _, s := range nodes {
			if got := questionByID(t, s, "s1", "q1").Votes; got != users {
				t.Errorf("votes = %d, want %d", got, users)
			}
		}
	})

	t.Run("daily cap", func(t *testing.T) {
		const attempts, limit = 8, 3
		var wg sync.WaitGroup
		var mu sync.Mutex
		sent := 0
		for i := range attempts {
			wg.Go(func() {
				d, replayed, err := nodes[i%2].DecideNotification(ctx, fmt.Sprint("n", i), "bob", "2026-03-14", limit)
				if err != nil || replayed {
					t.Errorf("DecideNotification: %s, replayed %v, %v", d, replayed, err)
					return
				}
				if d == NotificationSent {
					mu.Lock()
					sent++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if sent != limit {
			t.Errorf("sent %d of %d, want %d", sent, attempts, limit)
		}
		if n, err := b.NotificationsSent(ctx, "bob", "2026-03-14"); err != nil || n != limit {
			t.Errorf("NotificationsSent = %d, %v; want %d", n, err, limit)
		}
	})

	t.Run("timeline", func(t *testing.T) {
		if ok, err := a.AppendTimeline(ctx, "s1", timelineItem(1000, "likes:1"), 10); err != nil || !ok {
			t.Fatalf("append on a: %v, %v", ok, err)
		}
		if ok, err := b.AppendTimeline(ctx, "s1", timelineItem(1000, "likes:1"), 10); err != nil || ok {
			t.Errorf("append of the same sample on b: %v, %v; want false", ok, err)
		}
		if err := b.AddParticipant(ctx, "s1", "cy", conformanceT0); err != nil {
			t.Fatal(err)
		}
		if st, err := a.LastStream(ctx, "cy"); err != nil || st != "s1" {
			t.Errorf("LastStream on a = %q, %v; want s1", st, err)
		}
	})
}

// TestRedisExtrasStoreNotificationDays checks that a decision is replayed on the next day (as promised) and
// that the cap counts per day.
func TestRedisExtrasStoreNotificationDays(t *testing.T) {
	s := newTestRedisExtrasStore(t)
	ctx := context.Background()
	steps := []struct {
		id, day      string
		want         string
		wantReplayed bool
	}{
		{"n1", "2026-03-14", NotificationSent, false},
		{"n2", "2026-03-14", NotificationCapped, false},
		{"n1", "2026-03-15", NotificationSent, true},   // decided the day before
		{"n2", "2026-03-15", NotificationCapped, true}, // so is a refusal
		{"n3", "2026-03-15", NotificationSent, false},
		{"n1", "2026-03-17", NotificationSent, false}, // forgotten after the next day
	}
	for i, st := range steps {
		got, replayed, err := s.DecideNotification(ctx, st.id, "ann", st.day, 1)
		if err != nil || got != st.want || replayed != st.wantReplayed {
			t.Errorf("step %d (%s on %s): %s replayed %v err %v; want %s replayed %v", i, st.id, st.day, got, replayed, err, st.want, st.wantReplayed)
		}
	}
	_, _, err := s.DecideNotification(ctx, "n9", "ann", "14/03/2026", 1)
	wantCode(t, "bad day", err, ErrInvalid)
}

// TestRedisExtrasStoreTimelineData checks that an item comes back as it went in, whatever its key, type and
// data hold, and with offsets at the edges of the range.
func TestRedisExtrasStoreTimelineData(t *testing.T) {
	s := newTestRedisExtrasStore(t)
	ctx := context.Background()
	in := []TimelineItem{
		{OffsetMS: 0, Type: "comment", Data: json.RawMessage(`{"text":"a}:{b\u0000 ✓"}`), Key: "comment:x:{y}"},
		{OffsetMS: 1 << 40, Type: "poll.results", Data: json.RawMessage(`[1,2,3]`), Key: ""},
		{OffsetMS: 1 << 40, Type: "", Data: json.RawMessage(`null`), Key: strings.Repeat("k", 300)},
	}
	for _, it := range in {
		if ok, err := s.AppendTimeline(ctx, "s1", it, 10); err != nil || !ok {
			t.Fatalf("AppendTimeline %q: %v, %v", it.Key, ok, err)
		}
	}
	got, err := s.TimelineItems(ctx, "s1", math.MinInt64, math.MaxInt64, math.MinInt64, -1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d items, want %d", len(got), len(in))
	}
	for i, it := range got {
		want := in[i]
		if it.OffsetMS != want.OffsetMS || it.Type != want.Type || string(it.Data) != string(want.Data) || it.Key != want.Key || it.Seq != int64(i) {
			t.Errorf("item %d = %+v (data %s), want %+v (data %s), seq %d", i, it, it.Data, want, want.Data, i)
		}
	}
	if got, err := s.TimelineItems(ctx, "s1", 0, 10, math.MinInt64, -1, 0); err != nil || len(got) != 0 {
		t.Errorf("limit 0: %v, %v; want none", got, err)
	}
}

// TestRedisExtrasStoreKeys checks the documented layout and TTLs: question and audience keys live StreamTTL,
// timelines 30 days, notification counts two days.
func TestRedisExtrasStoreKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	const ttl = time.Hour
	s := NewRedisStore(rdb, RedisConfig{Prefix: prefix, StreamTTL: ttl})
	ctx := context.Background()
	for _, id := range []string{"q1", "q2"} {
		if err := s.AddQuestion(ctx, "s1", testQuestion(id, "ann"), 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpvoteQuestion(ctx, "s1", "q1", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		id, flag string
	}{{"q1", FlagPinned}, {"q1", FlagAnswered}, {"q2", FlagHidden}} {
		if _, _, err := s.SetQuestionFlag(ctx, "s1", f.id, f.flag, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendTimeline(ctx, "s1", timelineItem(1000, "a"), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.HideTimeline(ctx, "s1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddParticipant(ctx, "s1", "ann", conformanceT0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DecideNotification(ctx, "n1", "ann", "2026-03-14", 3); err != nil {
		t.Fatal(err)
	}
	const month = 30 * 24 * time.Hour
	tests := []struct {
		key     string
		typ     string
		ttlFrom time.Duration // a TTL in (ttlFrom, ttlTo]
		ttlTo   time.Duration
	}{
		{"stream:{s1}:questions", "hash", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:votes", "hash", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:voters", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:answered", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:hidden", "set", ttl - time.Minute, ttl},
		{"stream:{s1}:questions:pinned", "string", ttl - time.Minute, ttl},
		{"stream:{s1}:timeline", "zset", month - time.Minute, month},
		{"stream:{s1}:timeline:seq", "string", month - time.Minute, month},
		{"stream:{s1}:timeline:keys", "set", month - time.Minute, month},
		{"stream:{s1}:timeline:hidden", "set", month - time.Minute, month},
		{"stream:{s1}:audience", "set", ttl - time.Minute, ttl},
		{"user:{ann}:last-stream", "string", ttl - time.Minute, ttl},
		{"user:{ann}:notify:2026-03-14", "hash", 48*time.Hour - time.Minute, 48 * time.Hour},
	}
	for _, tt := range tests {
		key := prefix + tt.key
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		if typ != tt.typ {
			t.Errorf("TYPE %s = %s, want %s", tt.key, typ, tt.typ)
		}
		got, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if got <= tt.ttlFrom || got > tt.ttlTo {
			t.Errorf("PTTL %s = %v, want in (%v, %v]", tt.key, got, tt.ttlFrom, tt.ttlTo)
		}
	}
}

// TestRedisExtrasStoreUnavailable checks that every method answers ErrUnavailable, with the cause kept for
// logs, when Redis cannot be reached. It needs no Redis.
func TestRedisExtrasStoreUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewRedisStore(rdb, RedisConfig{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"AddQuestion", func() error { return s.AddQuestion(ctx, "s1", testQuestion("q1", "ann"), 10) }},
		{"Questions", func() error { _, err := s.Questions(ctx, "s1"); return err }},
		{"UpvoteQuestion", func() error { _, err := s.UpvoteQuestion(ctx, "s1", "q1", "bob"); return err }},
		{"SetQuestionFlag", func() error { _, _, err := s.SetQuestionFlag(ctx, "s1", "q1", FlagPinned, true); return err }},
		{"AppendTimeline", func() error { _, err := s.AppendTimeline(ctx, "s1", timelineItem(1, "a"), 10); return err }},
		{"HideTimeline", func() error { return s.HideTimeline(ctx, "s1", "a") }},
		{"TimelineItems", func() error {
			_, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10)
			return err
		}},
		{"AddParticipant", func() error { return s.AddParticipant(ctx, "s1", "ann", conformanceT0) }},
		{"Participants", func() error { _, err := s.Participants(ctx, "s1", 10); return err }},
		{"LastStream", func() error { _, err := s.LastStream(ctx, "ann"); return err }},
		{"DecideNotification", func() error {
			_, _, err := s.DecideNotification(ctx, "n1", "ann", "2026-03-14", 3)
			return err
		}},
		{"NotificationsSent", func() error { _, err := s.NotificationsSent(ctx, "ann", "2026-03-14"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want one matching ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("err = %q, want the cause kept for logs", err)
			}
		})
	}
}

// TestRedisExtrasStoreTimelinePaging checks pages that must skip more items than the script reads at once:
// hidden runs, and a cursor deep inside a run of equal offsets.
func TestRedisExtrasStoreTimelinePaging(t *testing.T) {
	s := newTestRedisExtrasStore(t)
	ctx := context.Background()
	const n = 200
	for i := range n {
		offset := int64(5)
		if i >= n/2 {
			offset = int64(i) * 10
		}
		if ok, err := s.AppendTimeline(ctx, "s1", timelineItem(offset, fmt.Sprintf("k%03d", i)), n); err != nil || !ok {
			t.Fatalf("append %d: %v, %v", i, ok, err)
		}
	}
	for i := n / 2; i < n; i++ {
		if i%50 != 0 {
			if err := s.HideTimeline(ctx, "s1", fmt.Sprintf("k%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys []string
	afterOffset, afterSeq := int64(math.MinInt64), int64(-1)
	for page := 0; ; page++ {
		items, err := s.TimelineItems(ctx, "s1", 0, math.MaxInt64, afterOffset, afterSeq, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 || page > n {
			break
		}
		keys = append(keys, timelineKeys(items)...)
		last := items[len(items)-1]
		afterOffset, afterSeq = last.OffsetMS, last.Seq
	}
	var want []string
	for i := range n {
		if i < n/2 || i%50 == 0 {
			want = append(want, fmt.Sprintf("k%03d", i))
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("paged keys = %v, want %v", keys, want)
	}
}
