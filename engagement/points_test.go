package engagement

import (
	"context"
	"sync"
	"testing"
	"time"
)

func testScoreState(t *testing.T, s Store) {
	ctx := context.Background()
	read := func(stream, user, kind string) LimitState {
		t.Helper()
		var seen LimitState
		if _, err := s.UpdateScoreState(ctx, stream, user, kind, func(st *LimitState) bool { seen = *st; return false }); err != nil {
			t.Fatalf("UpdateScoreState: %v", err)
		}
		return seen
	}
	sameJSON(t, "state never stored", read("s1", "u1", "comment"), LimitState{})

	_, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
		*st = st.Next(conformanceT0)
		return false // not scored: nothing is stored
	})
	if err != nil {
		t.Fatalf("UpdateScoreState: %v", err)
	}
	sameJSON(t, "state after fn returned false", read("s1", "u1", "comment"), LimitState{})

	for i := range 2 {
		got, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
			*st = st.Next(conformanceT0.Add(time.Duration(i) * time.Minute))
			return true
		})
		if err != nil {
			t.Fatalf("UpdateScoreState: %v", err)
		}
		sameJSON(t, "returned state", got, LimitState{Count: int64(i + 1), Last: conformanceT0.Add(time.Duration(i) * time.Minute)})
	}
	sameJSON(t, "stored state", read("s1", "u1", "comment"), LimitState{Count: 2, Last: conformanceT0.Add(time.Minute)})
	for _, other := range [][3]string{{"s1", "u2", "comment"}, {"s1", "u1", "question"}, {"s2", "u1", "comment"}} {
		sameJSON(t, "state of "+other[0]+"/"+other[1]+"/"+other[2], read(other[0], other[1], other[2]), LimitState{})
	}
}

// testScoreStateConcurrent checks that no scored interaction is lost when many writers race.
func testScoreStateConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, each = 5, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(st *LimitState) bool {
					*st = st.Next(conformanceT0)
					return true
				}); err != nil {
					t.Errorf("UpdateScoreState: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.UpdateScoreState(ctx, "s1", "u1", "comment", func(*LimitState) bool { return false })
	if err != nil {
		t.Fatalf("UpdateScoreState: %v", err)
	}
	if got.Count != writers*each {
		t.Errorf("after %d concurrent scored interactions Count = %d", writers*each, got.Count)
	}
}

// scoreStoreSuite is ScoreStore's part of the Store conformance suite (runStoreSuite).
var scoreStoreSuite = []storeCase{
	{"ScoreState", testScoreState},
	{"ScoreStateConcurrent", testScoreStateConcurrent},
}
