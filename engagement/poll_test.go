package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollSpecInvalid(t *testing.T) {
	long := strings.Repeat("x", MaxPollOptionRunes+1)
	tests := []struct {
		name  string
		spec  PollSpec
		field string
	}{
		{"no question", PollSpec{Question: "  ", Options: []string{"a", "b"}}, "question"},
		{"one option", PollSpec{Question: "q", Options: []string{"a"}}, "options"},
		{"eleven options", PollSpec{Question: "q", Options: strings.Split("abcdefghijk", "")}, "options"},
		{"empty option", PollSpec{Question: "q", Options: []string{"a", " "}}, "options"},
		{"long option", PollSpec{Question: "q", Options: []string{"a", long}}, "options"},
		{"short duration", PollSpec{Question: "q", Options: []string{"a", "b"}, DurationS: 4}, "duration_s"},
		{"long duration", PollSpec{Question: "q", Options: []string{"a", "b"}, DurationS: 3601}, "duration_s"},
		{"negative duration", PollSpec{Question: "q", Options: []string{"a", "b"}, DurationS: -1}, "duration_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFixture(t, 0)
			_, _, err := f.svc.OpenPoll(context.Background(), f.host1, "s1", tt.spec)
			if !isInvalidField(err, tt.field) {
				t.Fatalf("err = %#v, want invalid with field %q", err, tt.field)
			}
		})
	}
}

func TestPollConcurrentVotes(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Best colour?", Options: []string{"red", "green", "blue"}})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, users = 500, 300 // users u0..u199 vote twice
	var accepted, duplicates atomic.Int64
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			u := i % users
			_, err := f.svc.Vote(ctx, viewer(fmt.Sprintf("u%d", u)), "s1", p.ID, u%3)
			switch {
			case err == nil:
				accepted.Add(1)
			case CodeOf(err) == CodeDuplicate:
				duplicates.Add(1)
			default:
				t.Errorf("vote: %v", err)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != users || duplicates.Load() != goroutines-users {
		t.Fatalf("accepted %d, duplicates %d; want %d and %d", accepted.Load(), duplicates.Load(), users, goroutines-users)
	}
	got, err := f.svc.Poll(ctx, "s1", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{100, 100, 100}
	if got.Total != users || fmt.Sprint(got.Counts) != fmt.Sprint(want) {
		t.Fatalf("tally = %v total %d, want %v total %d", got.Counts, got.Total, want, users)
	}
	if n := len(f.eventsOf(EventPollVoted)); n != users {
		t.Fatalf("%d poll.voted events, want %d", n, users)
	}
}

func TestPollLifecycle(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, out, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Which?", Options: []string{"a", "b", "c"}, DurationS: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(framesOf(out.Broadcast, "poll.opened")) != 1 || out.Delay != 0 {
		t.Fatalf("open outcome = %+v", out)
	}
	if want := p.OpensAt.Add(30 * time.Second); !p.ClosesAt.Equal(want) || p.ClosesMS != want.UnixMilli() {
		t.Fatalf("closes_at = %v (%d), want %v", p.ClosesAt, p.ClosesMS, want)
	}
	_, _, err = f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Another", Options: []string{"x", "y"}})
	if !isInvalidField(err, "poll") {
		t.Fatalf("second open: err = %v, want invalid poll", err)
	}

	votes := []struct {
		user   string
		option int
		code   Code
	}{
		{"v1", 1, ""},
		{"v2", 2, ""},
		{"v3", 1, ""},
		{"v1", 0, CodeDuplicate},
		{"v4", 3, CodeInvalid},
		{"v4", -1, CodeInvalid},
	}
	for _, v := range votes {
		_, err := f.svc.Vote(ctx, viewer(v.user), "s1", p.ID, v.option)
		wantHostCode(t, err, v.code)
	}
	_, err = f.svc.Vote(ctx, viewer("v5"), "s1", "nope", 0)
	wantHostCode(t, err, CodeNotFound)

	w, err := f.svc.Join(ctx, viewer("late"), "s1")
	if err != nil {
		t.Fatal(err)
	}
	wp, ok := w.Poll.(Poll)
	if !ok || wp.ID != p.ID || fmt.Sprint(wp.Counts) != "[0 2 1]" {
		t.Fatalf("welcome poll = %#v", w.Poll)
	}
	snap, err := f.svc.Snapshot(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	tally := framesOf(snap, "poll.tally")
	if len(tally) != 1 {
		t.Fatalf("snapshot = %+v, want one poll.tally", snap)
	}
	if b, _ := json.Marshal(tally[0].Data); !strings.Contains(string(b), `"counts":[0,2,1]`) || !strings.Contains(string(b), `"total":3`) {
		t.Fatalf("poll.tally = %s", b)
	}

	// not yet due: nothing happens
	f.clock.Advance(29 * time.Second)
	if out, err := f.svc.Tick(ctx, "s1"); err != nil || !out.Empty() {
		t.Fatalf("early tick = %+v, %v", out, err)
	}
	f.clock.Advance(time.Second)
	_, err = f.svc.Vote(ctx, viewer("v6"), "s1", p.ID, 0)
	wantHostCode(t, err, CodeClosed) // past closes_at even before the tick closes it
	out, err = f.svc.Tick(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	closed := framesOf(out.Broadcast, "poll.closed")
	if len(closed) != 1 {
		t.Fatalf("tick outcome = %+v, want poll.closed", out)
	}
	if b, _ := json.Marshal(closed[0].Data); !strings.Contains(string(b), `"winner":1`) {
		t.Fatalf("poll.closed = %s", b)
	}
	if out, _ := f.svc.Tick(ctx, "s1"); !out.Empty() {
		t.Fatalf("second tick closed again: %+v", out)
	}
	if len(f.eventsOf(EventPollClosed)) != 1 {
		t.Fatalf("want one poll.closed event")
	}
	if w, _ := f.svc.Join(ctx, viewer("later"), "s1"); w.Poll != nil {
		t.Fatalf("welcome after close has poll %#v", w.Poll)
	}
	// a new poll may open now, and closing it by hand twice announces once
	p2, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Next", Options: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	got, out, err := f.svc.ClosePoll(ctx, f.host1, "s1", p2.ID)
	if err != nil || got.Status != PollClosed || len(framesOf(out.Broadcast, "poll.closed")) != 1 {
		t.Fatalf("close = %+v %+v %v", got, out, err)
	}
	if _, out, err := f.svc.ClosePoll(ctx, f.host1, "s1", p2.ID); err != nil || !out.Empty() {
		t.Fatalf("second close = %+v %v", out, err)
	}
}

func TestPollWinner(t *testing.T) {
	tests := []struct {
		counts []int64
		want   int
	}{
		{[]int64{0, 0, 0}, -1},
		{[]int64{1, 3, 2}, 1},
		{[]int64{2, 5, 5}, 1},
		{[]int64{4, 4}, 0},
	}
	for _, tt := range tests {
		if got := (Poll{Counts: tt.counts}).Winner(); got != tt.want {
			t.Errorf("Winner(%v) = %d, want %d", tt.counts, got, tt.want)
		}
	}
}

func TestPollVoteFrame(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	a, ok := NewAction("poll.vote")
	if !ok {
		t.Fatal("poll.vote is not registered")
	}
	if err := json.Unmarshal([]byte(`{"poll_id":"`+p.ID+`","option":1}`), a); err != nil {
		t.Fatal(err)
	}
	out, err := f.svc.Handle(ctx, viewer("v1"), "s1", a)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Direct) != 1 || out.Direct[0].User != "v1" || out.Direct[0].Frame.Type != "points" {
		t.Fatalf("vote outcome = %+v, want a points frame for v1", out)
	}
	if _, err := f.svc.Handle(ctx, viewer("v1"), "s1", a); CodeOf(err) != CodeDuplicate {
		t.Fatalf("second vote: %v", err)
	}
}

func testPollStore(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	_, err := s.CurrentPoll(ctx, "st")
	isErr(t, err, ErrNotFound)
	p := Poll{ID: "p1", Question: "Q", Options: []string{"a", "b", "c"}, Counts: []int64{0, 0, 0}, Status: PollOpen,
		OpensAt: t0, ClosesAt: t0.Add(time.Minute), ClosesMS: t0.Add(time.Minute).UnixMilli(), DurationS: 60}
	noErr(t, s.OpenPoll(ctx, "st", p))
	isErr(t, s.OpenPoll(ctx, "st", Poll{ID: "p2", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}), ErrDuplicate)
	noErr(t, s.OpenPoll(ctx, "other", Poll{ID: "p9", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))

	votes := []struct {
		user   string
		option int
		at     time.Time
		want   error
	}{
		{"early", 0, t0.Add(-time.Millisecond), ErrClosed},
		{"u1", 1, t0, nil},
		{"u2", 1, t0.Add(time.Second), nil},
		{"u3", 2, t0.Add(time.Second), nil},
		{"u1", 0, t0.Add(time.Second), ErrDuplicate},
		{"u4", 3, t0.Add(time.Second), ErrInvalid},
		{"u5", 0, t0.Add(time.Minute), ErrClosed},
	}
	for _, v := range votes {
		_, err := s.VotePoll(ctx, "st", "p1", v.user, v.option, v.at)
		if v.want == nil {
			noErr(t, err)
		} else {
			isErr(t, err, v.want)
		}
	}
	_, err = s.VotePoll(ctx, "st", "nope", "u1", 0, t0)
	isErr(t, err, ErrNotFound)
	got, err := s.Poll(ctx, "st", "p1")
	noErr(t, err)
	if got.Total != 3 || !slices.Equal(got.Counts, []int64{0, 2, 1}) || got.Question != "Q" || !got.ClosesAt.Equal(p.ClosesAt) || !got.OpensAt.Equal(t0) {
		t.Fatalf("poll = %+v", got)
	}
	if v, _ := s.HasVoted(ctx, "st", "u2"); !v {
		t.Fatal("u2 voted but HasVoted is false")
	}
	if v, _ := s.HasVoted(ctx, "st", "early"); v {
		t.Fatal("a refused vote counts in HasVoted")
	}
	closed, first, err := s.ClosePoll(ctx, "st", "p1", t0.Add(2*time.Second))
	noErr(t, err)
	if !first || closed.Status != PollClosed || closed.Total != 3 {
		t.Fatalf("close = %+v, %v", closed, first)
	}
	if _, again, err := s.ClosePoll(ctx, "st", "p1", t0.Add(3*time.Second)); err != nil || again {
		t.Fatalf("second close reported closing again (%v, %v)", again, err)
	}
	_, err = s.VotePoll(ctx, "st", "p1", "u6", 0, t0.Add(4*time.Second))
	isErr(t, err, ErrClosed)
	noErr(t, s.OpenPoll(ctx, "st", Poll{ID: "p2", Question: "Q2", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))
	cur, err := s.CurrentPoll(ctx, "st")
	noErr(t, err)
	if cur.ID != "p2" {
		t.Fatalf("current poll = %s, want p2", cur.ID)
	}
}

func testPollStoreConcurrentVotes(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	noErr(t, s.OpenPoll(ctx, "st", Poll{ID: "p", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range 100 {
		wg.Go(func() {
			_, err := s.VotePoll(ctx, "st", "p", fmt.Sprintf("u%d", i%40), i%2, t0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted++
			} else if !errors.Is(err, ErrDuplicate) {
				t.Errorf("vote: %v", err)
			}
		})
	}
	wg.Wait()
	p, err := s.Poll(ctx, "st", "p")
	noErr(t, err)
	if accepted != 40 || p.Total != 40 || p.Counts[0]+p.Counts[1] != 40 {
		t.Fatalf("accepted %d, poll %+v", accepted, p)
	}
}

// pollStoreSuite is PollStore's part of the Store conformance suite (runStoreSuite).
var pollStoreSuite = []storeCase{
	{"OpenVoteClose", testPollStore},
	{"ConcurrentVotes", testPollStoreConcurrentVotes},
}

// pollAgedSuite is PollStore's part of the suite's lifetime cases (runStoreSuite).
var pollAgedSuite = []agedCase{
	{"Lifetime", testPollLifetime},
}

// testPollLifetime: a stream's polls and voters live StreamTTL after their last write.
func testPollLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	open := func(stream, id string) {
		t.Helper()
		noErr(t, s.OpenPoll(ctx, stream, Poll{ID: id, Question: "Q", Options: []string{"a", "b"}, Status: PollOpen, OpensAt: storeT0}))
	}
	open("s1", "p1")
	_, err := s.VotePoll(ctx, "s1", "p1", "u1", 0, storeT0)
	noErr(t, err)
	age(DefaultStreamTTL - time.Minute)
	open("s2", "p2")
	if _, err := s.Poll(ctx, "s1", "p1"); err != nil {
		t.Fatalf("a minute before StreamTTL: %v", err)
	}
	age(time.Minute)
	open("s3", "p3")
	_, err = s.Poll(ctx, "s1", "p1")
	isErr(t, err, ErrNotFound)
	_, err = s.CurrentPoll(ctx, "s1")
	isErr(t, err, ErrNotFound)
	voted, err := s.HasVoted(ctx, "s1", "u1")
	noErr(t, err)
	if voted {
		t.Fatal("at StreamTTL the stream's voters are still there")
	}
	if _, err := s.Poll(ctx, "s2", "p2"); err != nil {
		t.Fatalf("the other stream's poll: %v", err)
	}
}
