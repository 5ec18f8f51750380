package engagement

import (
	"context"
	"errors"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"sync/atomic"
	"testing"
	"time"
)

func balanceOf(t *testing.T, s *Service, user string) int64 {
	t.Helper()
	acc, err := s.ledger.Account(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Balance
}

// TestWatchPointsAreLinear: watching pays PerMinute each full minute up to MaxPerStream, whatever the rate
// (the state counts minutes, not points).
func TestWatchPointsAreLinear(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	rules := DefaultRules()
	rules.Watch = WatchRule{PerMinute: 2, MaxPerStream: 7}
	s := newFixture(t, clk, Config{Rules: &rules}, fixtureStream{testHost, StreamSpec{ID: "s1", Title: "Show"}}).svc
	var got []int64
	for range 6 {
		clk.Advance(time.Minute)
		s.Watched(ctx, testViewer, "s1")
		got = append(got, balanceOf(t, s, "ann"))
	}
	want := []int64{2, 4, 6, 7, 7, 7}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("balance after each minute %v, want %v", got, want)
		}
	}
	s.Watched(ctx, testViewer, "s1") // a second tab in the same minute
	if b := balanceOf(t, s, "ann"); b != 7 {
		t.Fatalf("second tab paid: %d", b)
	}
}

// TestFeedbackPaysOnlyWatchers: feedback on a stream one never watched earns nothing (it would be free points).
func TestFeedbackPaysOnlyWatchers(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	h := Actor{User: "h", Role: RoleHost}
	s := newFixture(t, clk, Config{}, fixtureStream{h, StreamSpec{ID: "s1", Title: "Show"}}, fixtureStream{h, StreamSpec{ID: "s2", Title: "Show"}}).svc
	if _, err := s.SendFeedback(ctx, testViewer, "s1", FeedbackRating, 5); err != nil {
		t.Fatal(err)
	}
	if b := balanceOf(t, s, "ann"); b != 0 {
		t.Fatalf("feedback without watching paid %d", b)
	}
	clk.Advance(time.Minute)
	s.Watched(ctx, testViewer, "s2") // +1
	if _, err := s.SendFeedback(ctx, testViewer, "s2", FeedbackRating, 4); err != nil {
		t.Fatal(err)
	}
	if b := balanceOf(t, s, "ann"); b != 1+5 {
		t.Fatalf("balance %d, want 1 (watching) + 5 (feedback)", b)
	}
}

// TestHostsEarnNothingFromTheirShow: a host cannot play their own quiz, and staff awards pay nothing.
func TestHostsEarnNothingFromTheirShow(t *testing.T) {
	ctx := context.Background()
	f := newHostFixture(t, 0)
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: []QuizItem{{Text: "Q?", Choices: []string{"a", "b"}, Answer: 0, TimeLimitS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Answer(ctx, f.host1, "s1", q.ID, "q0", 0)
	wantHostCode(t, err, CodeForbidden)
	if out := f.svc.award(ctx, f.host1, "s1", Scored{Key: "k", Source: SourcePoll, Points: 5}); !out.Empty() {
		t.Fatalf("a host was paid: %+v", out)
	}
}

// TestEndingAShowRevealsTheOpenQuestion: a question still open when the host ends the show is revealed then,
// so its correct answers are paid.
func TestEndingAShowRevealsTheOpenQuestion(t *testing.T) {
	ctx := context.Background()
	f := newHostFixture(t, 0)
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: []QuizItem{{Text: "Q?", Choices: []string{"a", "b"}, Answer: 1, TimeLimitS: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Answer(ctx, viewer("v"), "s1", q.ID, "q0", 1); err != nil {
		t.Fatal(err)
	}
	_, out, err := f.svc.EndStream(ctx, f.host1, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, fr := range out.Broadcast {
		types = append(types, fr.Type)
	}
	if len(types) == 0 || types[0] != "quiz.reveal" || types[len(types)-1] != "stream.ended" {
		t.Fatalf("end outcome %v, want the reveal before stream.ended", types)
	}
	if b := balanceOf(t, f.svc, "v"); b != 100 {
		t.Fatalf("correct answer at t=0 paid %d, want 100", b)
	}
}

// TestReplayPointsAreLimited: replay answers pay for the first MaxReplayScored questions of a stream only.
func TestReplayPointsAreLimited(t *testing.T) {
	ctx := context.Background()
	f := newHostFixture(t, 0)
	var qs []QuizItem
	for range 5 {
		qs = append(qs, QuizItem{Text: "Q?", Choices: []string{"a", "b"}, Answer: 0, TimeLimitS: 10})
	}
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", QuizSpec{Questions: qs})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.svc.EndStream(ctx, f.host1, "s1"); err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		if _, err := f.svc.ReplayAnswer(ctx, viewer("late"), "s1", q.ID, questionID(k), 0); err != nil {
			t.Fatalf("replay answer %d: %v", k, err)
		}
	}
	per := f.svc.scorerFor("late").Quiz(true, 10*time.Second, 10*time.Second, 0, true)
	if b := balanceOf(t, f.svc, "late"); b != MaxReplayScored*per {
		t.Fatalf("5 correct replay answers paid %d, want %d × %d", b, MaxReplayScored, per)
	}
}

// flakyLedgerStore fails awards while down is set, as a Redis outage would.
type flakyLedgerStore struct {
	rewards.Store
	down atomic.Bool
}

func (f *flakyLedgerStore) Award(ctx context.Context, a rewards.Award, p rewards.Policy) (rewards.AwardResult, error) {
	if f.down.Load() {
		return rewards.AwardResult{}, errors.New("ledger unreachable")
	}
	return f.Store.Award(ctx, a, p)
}

// TestFailedAwardIsRetried: points the ledger could not take are paid by the award queue's next pass, once,
// at the month they were earned in, and their frame is delivered.
func TestFailedAwardIsRetried(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	store := &flakyLedgerStore{Store: rewards.NewMemoryStore()}
	ledger, err := rewards.NewLedger(store, rewards.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	s := newFixture(t, clk, Config{Ledger: ledger}, fixtureStream{testHost, StreamSpec{ID: "s1", Title: "Show"}}).svc
	var delivered []Outcome
	pass := func() {
		delivered = nil
		s.retryAwards(ctx, map[string]retryState{}, func(_ context.Context, o Outcome) { delivered = append(delivered, o) })
	}
	store.down.Store(true)
	out, err := s.PostComment(ctx, testViewer, "s1", "hello")
	if err != nil || len(out.Direct) != 0 {
		t.Fatalf("comment during the outage: %v, %d points frames; want accepted, none", err, len(out.Direct))
	}
	clk.Advance(2 * time.Second)
	pass()
	if len(delivered) != 0 {
		t.Fatal("paid while the ledger is still down")
	}
	store.down.Store(false)
	clk.Advance(3 * time.Second)
	pass()
	if len(delivered) != 1 || len(delivered[0].Direct) != 1 || delivered[0].Direct[0].User != "ann" {
		t.Fatalf("pass after recovery delivered %+v, want ann's points frame", delivered)
	}
	clk.Advance(time.Minute)
	pass()
	if len(delivered) != 0 || balanceOf(t, s, "ann") != 1 {
		t.Fatalf("paid twice or not at all: balance %d", balanceOf(t, s, "ann"))
	}
}
