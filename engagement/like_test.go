package engagement

import (
	"context"
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

// likeStoreSuite is LikeStore's part of the Store conformance suite (runStoreSuite).
var likeStoreSuite = []storeCase{
	{"Likes", testLikes},
}
