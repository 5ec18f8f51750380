package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// runStoreConformance is the one test suite of the core Store interfaces (StreamStore, ChatStore,
// LikeStore, ScoreStore). Every implementation must pass it; newStore returns an empty store for one subtest.
func runStoreConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"CreateAndGetStream", testCreateAndGetStream},
		{"UpdateStream", testUpdateStream},
		{"UpdateStreamConcurrent", testUpdateStreamConcurrent},
		{"RecentComments", testRecentComments},
		{"RemoveComment", testRemoveComment},
		{"Moderation", testModeration},
		{"UpdateModerationConcurrent", testUpdateModerationConcurrent},
		{"TakeSlot", testTakeSlot},
		{"Likes", testLikes},
		{"ScoreState", testScoreState},
		{"ScoreStateConcurrent", testScoreStateConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func TestMemoryStoreConformance(t *testing.T) {
	runStoreConformance(t, func(*testing.T) Store { return NewMemoryStore() })
}

// conformanceT0 is a fixed instant on a whole millisecond, so that every store keeps it exactly.
var conformanceT0 = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

var errFromFn = errors.New("fn refused")

// sameJSON fails the test unless got and want encode to the same JSON: stores may return an equal time.Time
// in another representation (location pointer, no monotonic reading), which JSON ignores.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("encode %s: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("encode want %s: %v", what, err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func wantCode(t *testing.T, what string, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: err = %v, want code %s", what, err, sentinel.Code)
	}
}

func testStream(id string) Stream {
	return Stream{ID: id, Title: "Spring " + id, Host: "host-1", Status: StatusLive, StartedAt: conformanceT0, VideoDelayMS: 1500}
}

func testCreateAndGetStream(t *testing.T, s Store) {
	ctx := context.Background()
	want := testStream("s1")
	if err := s.CreateStream(ctx, want); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	got, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stream", got, want)

	dup := testStream("s1")
	dup.Title = "other"
	wantCode(t, "CreateStream of a taken id", s.CreateStream(ctx, dup), ErrDuplicate)
	got, err = s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream after duplicate: %v", err)
	}
	sameJSON(t, "stream after duplicate create", got, want)

	_, err = s.Stream(ctx, "missing")
	wantCode(t, "Stream of a missing id", err, ErrNotFound)
}

func testUpdateStream(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.CreateStream(ctx, testStream("s1")); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	ended := conformanceT0.Add(time.Hour)
	got, err := s.UpdateStream(ctx, "s1", func(st *Stream) error {
		st.Status = StatusEnded
		st.EndedAt = ended
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateStream: %v", err)
	}
	want := testStream("s1")
	want.Status, want.EndedAt = StatusEnded, ended
	sameJSON(t, "returned stream", got, want)
	stored, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stored stream", stored, want)

	_, err = s.UpdateStream(ctx, "s1", func(st *Stream) error {
		st.Title = "not stored"
		return errFromFn
	})
	if err != errFromFn {
		t.Errorf("UpdateStream with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sameJSON(t, "stream after failing fn", stored, want)

	called := false
	_, err = s.UpdateStream(ctx, "missing", func(*Stream) error { called = true; return nil })
	wantCode(t, "UpdateStream of a missing id", err, ErrNotFound)
	if called {
		t.Error("UpdateStream called fn for a missing stream")
	}
	if _, err := s.Stream(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateStream of a missing id created it: err = %v", err)
	}
}

// testUpdateStreamConcurrent checks that no update is lost when many writers race.
func testUpdateStreamConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	st := testStream("s1")
	st.VideoDelayMS = 0
	if err := s.CreateStream(ctx, st); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.UpdateStream(ctx, "s1", func(st *Stream) error { st.VideoDelayMS++; return nil }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateStream: %v", err)
	}
	got, err := s.Stream(ctx, "s1")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if got.VideoDelayMS != writers*each {
		t.Errorf("after %d concurrent increments VideoDelayMS = %d", writers*each, got.VideoDelayMS)
	}
}

func testComment(i int) Comment {
	return Comment{ID: fmt.Sprintf("c%d", i), User: "u1", Name: "Ann", Text: fmt.Sprintf("hello %d", i), At: conformanceT0.Add(time.Duration(i) * time.Second)}
}

func commentIDs(cs []Comment) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testRecentComments(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.AddComment(ctx, "s1", testComment(i), 3); err != nil {
			t.Fatalf("AddComment: %v", err)
		}
	}
	if err := s.AddComment(ctx, "s2", testComment(9), 3); err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	tests := []struct {
		stream string
		n      int
		want   []string
	}{
		{"s1", 10, []string{"c2", "c3", "c4"}},
		{"s1", 3, []string{"c2", "c3", "c4"}},
		{"s1", 2, []string{"c3", "c4"}},
		{"s1", 0, []string{}},
		{"s2", 10, []string{"c9"}},
		{"empty", 10, []string{}},
	}
	for _, tt := range tests {
		got, err := s.RecentComments(ctx, tt.stream, tt.n)
		if err != nil {
			t.Fatalf("RecentComments(%s, %d): %v", tt.stream, tt.n, err)
		}
		if ids := commentIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("RecentComments(%s, %d) = %v, want %v", tt.stream, tt.n, ids, tt.want)
		}
	}
	got, err := s.RecentComments(ctx, "s1", 1)
	if err != nil {
		t.Fatalf("RecentComments: %v", err)
	}
	if len(got) == 1 {
		sameJSON(t, "comment", got[0], testComment(4))
	}
}

func testRemoveComment(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 4 {
		if err := s.AddComment(ctx, "s1", testComment(i), 10); err != nil {
			t.Fatalf("AddComment: %v", err)
		}
	}
	tests := []struct {
		stream, id string
		want       bool
		left       []string
	}{
		{"s1", "c1", true, []string{"c0", "c2", "c3"}},
		{"s1", "c1", false, []string{"c0", "c2", "c3"}}, // twice is not an error
		{"s1", "nope", false, []string{"c0", "c2", "c3"}},
		{"s2", "c0", false, []string{"c0", "c2", "c3"}}, // another stream's id space
		{"s1", "c3", true, []string{"c0", "c2"}},
		{"s1", "c0", true, []string{"c2"}},
	}
	for _, tt := range tests {
		got, err := s.RemoveComment(ctx, tt.stream, tt.id)
		if err != nil {
			t.Fatalf("RemoveComment(%s, %s): %v", tt.stream, tt.id, err)
		}
		if got != tt.want {
			t.Errorf("RemoveComment(%s, %s) = %v, want %v", tt.stream, tt.id, got, tt.want)
		}
		cs, err := s.RecentComments(ctx, "s1", 10)
		if err != nil {
			t.Fatalf("RecentComments: %v", err)
		}
		if ids := commentIDs(cs); !slices.Equal(ids, tt.left) {
			t.Errorf("after RemoveComment(%s, %s) recent = %v, want %v", tt.stream, tt.id, ids, tt.left)
		}
	}
}

func testModeration(t *testing.T, s Store) {
	ctx := context.Background()
	got, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "unset moderation", got, Moderation{})

	until := conformanceT0.Add(10 * time.Minute)
	want := Moderation{SlowModeS: 30, BannedWords: []string{"spam"}, Muted: map[string]time.Time{"u2": until}, Banned: map[string]bool{"u3": true}}
	got, err = s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
		m.SlowModeS = 30
		m.BannedWords = append(m.BannedWords, "spam")
		m.Muted = map[string]time.Time{"u2": until}
		m.Banned = map[string]bool{"u3": true}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateModeration: %v", err)
	}
	sameJSON(t, "returned moderation", got, want)
	got.Banned["u9"] = true // the caller's copy; the store must not see this
	got.BannedWords[0] = "changed"

	stored, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "stored moderation", stored, want)

	_, err = s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
		m.SlowModeS = 99
		m.Banned["u4"] = true
		return errFromFn
	})
	if err != errFromFn {
		t.Errorf("UpdateModeration with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "moderation after failing fn", stored, want)

	other, err := s.Moderation(ctx, "s2")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	sameJSON(t, "another stream's moderation", other, Moderation{})
}

// testUpdateModerationConcurrent checks that concurrent bans of different users are all kept.
func testUpdateModerationConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, each = 5, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				user := fmt.Sprintf("u%d-%d", w, i)
				_, err := s.UpdateModeration(ctx, "s1", func(m *Moderation) error {
					if m.Banned == nil {
						m.Banned = map[string]bool{}
					}
					m.Banned[user] = true
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateModeration: %v", err)
	}
	got, err := s.Moderation(ctx, "s1")
	if err != nil {
		t.Fatalf("Moderation: %v", err)
	}
	if len(got.Banned) != writers*each {
		t.Errorf("after %d concurrent bans %d users are banned", writers*each, len(got.Banned))
	}
}

func testTakeSlot(t *testing.T, s Store) {
	ctx := context.Background()
	const every = 5 * time.Second
	tests := []struct {
		name         string
		stream, user string
		at           time.Duration // after conformanceT0
		ok           bool
		left         time.Duration
	}{
		{"first slot", "s1", "u1", 0, true, 0},
		{"too soon", "s1", "u1", 1500 * time.Millisecond, false, 3500 * time.Millisecond},
		{"other user", "s1", "u2", 1500 * time.Millisecond, true, 0},
		{"other stream", "s2", "u1", 1500 * time.Millisecond, true, 0},
		{"just before the gap", "s1", "u1", every - time.Millisecond, false, time.Millisecond},
		{"after the gap", "s1", "u1", every, true, 0},
		{"gap counts from the new slot", "s1", "u1", every + 2*time.Second, false, 3 * time.Second},
	}
	for _, tt := range tests {
		ok, left, err := s.TakeSlot(ctx, tt.stream, tt.user, every, conformanceT0.Add(tt.at))
		if err != nil {
			t.Fatalf("%s: TakeSlot: %v", tt.name, err)
		}
		if ok != tt.ok || left != tt.left {
			t.Errorf("%s: TakeSlot = %v, %v; want %v, %v", tt.name, ok, left, tt.ok, tt.left)
		}
	}
}

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
