package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func testLikes(t *testing.T, s Store) {
	ctx := context.Background()
	if n, err := s.Likes(ctx, "s1"); err != nil || n != 0 {
		t.Fatalf("Likes of a new stream = %d, %v; want 0, nil", n, err)
	}
	for i, tt := range []struct{ add, want int64 }{{3, 3}, {4, 7}, {50, 57}} {
		got, err := s.AddLikes(ctx, "s1", tt.add)
		if err != nil {
			t.Fatalf("AddLikes #%d: %v", i, err)
		}
		if got != tt.want {
			t.Errorf("AddLikes(%d) = %d, want %d", tt.add, got, tt.want)
		}
	}
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.AddLikes(ctx, "s1", 2); err != nil {
					t.Errorf("AddLikes: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := int64(57 + writers*each*2)
	if n, err := s.Likes(ctx, "s1"); err != nil || n != want {
		t.Errorf("Likes = %d, %v; want %d, nil", n, err, want)
	}
	if n, err := s.Likes(ctx, "s2"); err != nil || n != 0 {
		t.Errorf("Likes of another stream = %d, %v; want 0, nil", n, err)
	}
}

func TestLikeRate(t *testing.T) {
	ctx := context.Background()
	s, _, clk := newTestService(t)
	if err := s.Like(ctx, testViewer, "s1", 0); CodeOf(err) != CodeInvalid {
		t.Fatalf("like 0: %v", err)
	}
	if _, err := s.Likes(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		clk.Advance(250 * time.Millisecond)
		if err := s.Like(ctx, testViewer, "s1", 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Likes(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Likes(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 40 || got.PerSecond != 40 {
		t.Fatalf("likes = %+v, want total 40 at 40/s", got)
	}
}

// TestLikeMeterJoinStorm: every join reads the like rate, so a join storm reads it thousands of times a
// second. The meter keeps a bounded number of samples (it used to keep, and walk, every one of the last
// second) and still measures the rate exactly.
func TestLikeMeterJoinStorm(t *testing.T) {
	m := newLikeMeter()
	t0 := time.Unix(1_700_000_000, 0)
	var rate float64
	for i := range 20_000 { // a read every 100 µs for 2 s; the total grows by one each time: 10,000 likes/s
		rate = m.observe("s1", int64(i), t0.Add(time.Duration(i)*100*time.Microsecond))
	}
	if math.Abs(rate-10_000) > 1e-6 {
		t.Errorf("rate %v, want 10000/s", rate)
	}
	if n, most := len(m.samples["s1"]), int(likeWindow/likeSampleGap)+2; n > most {
		t.Errorf("%d samples kept after 20,000 reads in 2 s, want at most %d", n, most)
	}
	// The hub's own reads, 250 ms apart, are all kept: the rate follows a change within the window.
	last := t0.Add(3 * time.Second)
	m.observe("s1", 20_000, last)
	for i := 1; i <= 4; i++ {
		rate = m.observe("s1", 20_000+int64(i)*10, last.Add(time.Duration(i)*250*time.Millisecond))
	}
	if math.Abs(rate-40) > 1e-6 {
		t.Errorf("rate %v after a second of 40 likes, want 40/s", rate)
	}
}

// likeStoreSuite is LikeStore's part of the Store conformance suite (runStoreSuite).
var likeStoreSuite = []storeCase{
	{"Likes", testLikes},
}

// TestLikesOneEventPerUserPerSecond: a user tapping as fast as frames allow costs one like.sent a second;
// the stream's total counts every like at once.
func TestLikesOneEventPerUserPerSecond(t *testing.T) {
	ctx := context.Background()
	s, sink, clk := newTestService(t)
	bob := Actor{User: "bob", Name: "Bob", Role: RoleViewer}
	likeEvents := func() []Event {
		var out []Event
		for _, ev := range sink.Events() {
			if ev.Type == EventLikeSent {
				out = append(out, ev)
			}
		}
		return out
	}
	clk.Set(clk.Now().Truncate(time.Second))
	for range 100 { // 100 frames in the first second, from one user
		if _, err := s.Handle(ctx, testViewer, "s1", &LikeSend{Count: 50}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Millisecond)
	}
	if _, err := s.Handle(ctx, bob, "s1", &LikeSend{Count: 3}); err != nil {
		t.Fatal(err)
	}
	if n := len(likeEvents()); n != 0 {
		t.Fatalf("%d like.sent events within the second, want none yet", n)
	}
	if st, _ := s.Likes(ctx, "s1"); st.Total != 5003 {
		t.Fatalf("total %d, want 5003 at once", st.Total)
	}
	clk.Advance(time.Second)
	if _, err := s.Handle(ctx, testViewer, "s1", &LikeSend{Count: 1}); err != nil { // closes ann's first second
		t.Fatal(err)
	}
	if _, err := s.Tick(ctx, "s1"); err != nil { // closes bob's
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := s.Tick(ctx, "s1"); err != nil { // closes ann's second one
		t.Fatal(err)
	}
	var got []string
	for _, ev := range likeEvents() {
		var d struct{ Count int }
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d", ev.UserID, d.Count))
	}
	slices.Sort(got)
	want := []string{"ann 1", "ann 5000", "bob 3"}
	if !slices.Equal(got, want) {
		t.Fatalf("like.sent events %q, want %q", got, want)
	}
}
