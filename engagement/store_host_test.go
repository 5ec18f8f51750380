package engagement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestMemoryHostStore(t *testing.T) {
	runHostStoreConformance(t, func(t *testing.T) Store { return NewMemoryStore() })
}

// runHostStoreConformance is the HostStore contract that every Store implementation must pass. newStore
// returns an empty store for one subtest.
func runHostStoreConformance(t *testing.T, newStoreOf func(t *testing.T) Store) {
	newStore := func(t *testing.T) HostStore {
		t.Helper()
		h, ok := newStoreOf(t).(HostStore)
		if !ok {
			t.Fatal("the store does not implement HostStore")
		}
		return h
	}
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	is := func(t *testing.T, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("err = %v, want %v", err, target)
		}
	}
	ok := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("poll", func(t *testing.T) {
		s := newStore(t)
		_, err := s.CurrentPoll(ctx, "st")
		is(t, err, ErrNotFound)
		p := Poll{ID: "p1", Question: "Q", Options: []string{"a", "b", "c"}, Counts: []int64{0, 0, 0}, Status: PollOpen,
			OpensAt: t0, ClosesAt: t0.Add(time.Minute), ClosesMS: t0.Add(time.Minute).UnixMilli(), DurationS: 60}
		ok(t, s.OpenPoll(ctx, "st", p))
		is(t, s.OpenPoll(ctx, "st", Poll{ID: "p2", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}), ErrDuplicate)
		ok(t, s.OpenPoll(ctx, "other", Poll{ID: "p9", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))

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
				ok(t, err)
			} else {
				is(t, err, v.want)
			}
		}
		_, err = s.VotePoll(ctx, "st", "nope", "u1", 0, t0)
		is(t, err, ErrNotFound)
		got, err := s.Poll(ctx, "st", "p1")
		ok(t, err)
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
		ok(t, err)
		if !first || closed.Status != PollClosed || closed.Total != 3 {
			t.Fatalf("close = %+v, %v", closed, first)
		}
		if _, again, err := s.ClosePoll(ctx, "st", "p1", t0.Add(3*time.Second)); err != nil || again {
			t.Fatalf("second close reported closing again (%v, %v)", again, err)
		}
		_, err = s.VotePoll(ctx, "st", "p1", "u6", 0, t0.Add(4*time.Second))
		is(t, err, ErrClosed)
		ok(t, s.OpenPoll(ctx, "st", Poll{ID: "p2", Question: "Q2", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))
		cur, err := s.CurrentPoll(ctx, "st")
		ok(t, err)
		if cur.ID != "p2" {
			t.Fatalf("current poll = %s, want p2", cur.ID)
		}
	})

	t.Run("poll concurrent votes", func(t *testing.T) {
		s := newStore(t)
		ok(t, s.OpenPoll(ctx, "st", Poll{ID: "p", Question: "Q", Options: []string{"a", "b"}, Counts: []int64{0, 0}, Status: PollOpen, OpensAt: t0}))
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
		ok(t, err)
		if accepted != 40 || p.Total != 40 || p.Counts[0]+p.Counts[1] != 40 {
			t.Fatalf("accepted %d, poll %+v", accepted, p)
		}
	})

	t.Run("quiz", func(t *testing.T) {
		s := newStore(t)
		_, err := s.ActiveQuiz(ctx, "st")
		is(t, err, ErrNotFound)
		q := Quiz{ID: "q1", Title: "T", Count: 2, Current: -1, Status: QuizReady, Questions: []QuizItem{
			{Text: "A?", Choices: []string{"x", "y"}, Answer: 1, TimeLimitS: 10, Counts: []int64{0, 0}},
			{Text: "B?", Choices: []string{"x", "y", "z"}, Answer: 2, TimeLimitS: 10, Counts: []int64{0, 0, 0}},
		}}
		ok(t, s.CreateQuiz(ctx, "st", q))
		is(t, s.CreateQuiz(ctx, "st", q), ErrDuplicate)
		answer := func(user string, question, choice int, at time.Time) error {
			return s.AnswerQuiz(ctx, "st", "q1", QuizResponse{User: user, Name: "N" + user, Question: question, Choice: choice, At: at}, at)
		}
		is(t, answer("u1", 0, 1, t0), ErrClosed) // not asked yet
		sentinel := errors.New("stop")
		if _, err := s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error { q.Current = 5; return sentinel }); !errors.Is(err, sentinel) {
			t.Fatalf("UpdateQuiz did not return fn's error: %v", err)
		}
		asked, err := s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error {
			q.Current, q.Status, q.OpensAt, q.Deadline = 0, QuizRunning, t0, t0.Add(10*time.Second)
			return nil
		})
		ok(t, err)
		if asked.Current != 0 || asked.Status != QuizRunning || !asked.Deadline.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("updated quiz = %+v", asked)
		}
		answers := []struct {
			user             string
			question, choice int
			at               time.Time
			want             error
		}{
			{"u1", 0, 1, t0.Add(-time.Millisecond), ErrClosed},
			{"u1", 0, 1, t0.Add(time.Second), nil},
			{"u2", 0, 0, t0.Add(2 * time.Second), nil},
			{"u3", 0, 1, t0.Add(3 * time.Second), nil},
			{"u1", 0, 0, t0.Add(4 * time.Second), ErrDuplicate},
			{"u4", 0, 2, t0.Add(4 * time.Second), ErrInvalid},
			{"u4", 1, 0, t0.Add(4 * time.Second), ErrClosed},
			{"u5", 0, 1, t0.Add(10 * time.Second), ErrClosed},
		}
		for _, a := range answers {
			err := answer(a.user, a.question, a.choice, a.at)
			if a.want == nil {
				ok(t, err)
			} else {
				is(t, err, a.want)
			}
		}
		got, err := s.Quiz(ctx, "st", "q1")
		ok(t, err)
		if !slices.Equal(got.Questions[0].Counts, []int64{1, 2}) || got.Questions[0].Answer != 1 || got.Title != "T" {
			t.Fatalf("quiz = %+v", got)
		}
		list, err := s.QuizAnswers(ctx, "st", "q1", 0)
		ok(t, err)
		var users []string
		for _, a := range list {
			users = append(users, a.User)
		}
		if !slices.Equal(users, []string{"u1", "u2", "u3"}) || list[0].Name != "Nu1" || !list[0].At.Equal(t0.Add(time.Second)) {
			t.Fatalf("answers = %+v", list)
		}
		_, err = s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error { q.Revealed = true; return nil })
		ok(t, err)
		is(t, answer("u6", 0, 1, t0.Add(5*time.Second)), ErrClosed) // revealed
		got, _ = s.Quiz(ctx, "st", "q1")
		if !slices.Equal(got.Questions[0].Counts, []int64{1, 2}) {
			t.Fatalf("UpdateQuiz changed counts: %v", got.Questions[0].Counts)
		}

		ok(t, s.SaveQuizPlayers(ctx, "st", "q1", []QuizPlayer{{User: "u1", Name: "Nu1", Score: 95, Streak: 1, LastCorrect: 0}}))
		ok(t, s.SaveQuizPlayers(ctx, "st", "q1", []QuizPlayer{{User: "u1", Name: "Nu1", Score: 180, Streak: 2, LastCorrect: 1}, {User: "u3", Score: 85, Streak: 1}}))
		players, err := s.QuizPlayers(ctx, "st", "q1")
		ok(t, err)
		slices.SortFunc(players, func(a, b QuizPlayer) int { return int(b.Score - a.Score) })
		if len(players) != 2 || players[0] != (QuizPlayer{User: "u1", Name: "Nu1", Score: 180, Streak: 2, LastCorrect: 1}) {
			t.Fatalf("players = %+v", players)
		}
		ok(t, s.CreateQuiz(ctx, "st", Quiz{ID: "q2", Count: 1, Current: -1, Status: QuizReady, Questions: q.Questions[:1]}))
		if a, err := s.ActiveQuiz(ctx, "st"); err != nil || a.ID != "q2" {
			t.Fatalf("active quiz = %+v, %v", a, err)
		}
		_, err = s.Quiz(ctx, "st", "missing")
		is(t, err, ErrNotFound)
	})

	t.Run("feedback", func(t *testing.T) {
		s := newStore(t)
		if c, err := s.Feedback(ctx, "st"); err != nil || c != (FeedbackCounts{}) {
			t.Fatalf("empty feedback = %+v, %v", c, err)
		}
		_, err := s.AddFeedback(ctx, "st", "u1", FeedbackRating, 4)
		ok(t, err)
		_, err = s.AddFeedback(ctx, "st", "u1", FeedbackRating, 5)
		is(t, err, ErrDuplicate)
		c, err := s.AddFeedback(ctx, "st", "u1", FeedbackNPS, 0)
		ok(t, err)
		want := FeedbackCounts{Ratings: [5]int64{3: 1}, NPS: [11]int64{0: 1}}
		if c != want {
			t.Fatalf("counts = %+v, want %+v", c, want)
		}
		if c, _ := s.Feedback(ctx, "st"); c != want {
			t.Fatalf("Feedback = %+v, want %+v", c, want)
		}
		if c, _ := s.Feedback(ctx, "other"); c != (FeedbackCounts{}) {
			t.Fatalf("another stream's feedback = %+v", c)
		}
	})

	t.Run("coupon", func(t *testing.T) {
		s := newStore(t)
		c := Coupon{ID: "c1", Title: "T", Stock: 10, OpensAt: t0, ExpiresAt: t0.Add(time.Minute), ExpiresMS: t0.Add(time.Minute).UnixMilli()}
		ok(t, s.CreateCoupon(ctx, "st", c))
		is(t, s.CreateCoupon(ctx, "st", c), ErrDuplicate)
		ok(t, s.CreateCoupon(ctx, "st", Coupon{ID: "c2", Title: "U", Stock: 1, OpensAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		_, err := s.ClaimCoupon(ctx, "st", "c1", "u0", "CODE0", t0.Add(-time.Second))
		is(t, err, ErrClosed)
		var wg sync.WaitGroup
		var mu sync.Mutex
		claimed := 0
		for i := range 50 {
			wg.Go(func() {
				_, err := s.ClaimCoupon(ctx, "st", "c1", fmt.Sprintf("u%d", i), fmt.Sprintf("CODE%d", i), t0)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					claimed++
				} else if !errors.Is(err, ErrClosed) {
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := s.Coupon(ctx, "st", "c1")
		ok(t, err)
		if claimed != 10 || got.Remaining != 0 || got.Stock != 10 {
			t.Fatalf("claimed %d, coupon %+v", claimed, got)
		}
		_, err = s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0.Add(time.Minute))
		is(t, err, ErrClosed) // expired
		after, err := s.ClaimCoupon(ctx, "st", "c2", "a", "X", t0)
		ok(t, err)
		if after.Remaining != 0 {
			t.Fatalf("remaining after claim = %d", after.Remaining)
		}
		_, err = s.ClaimCoupon(ctx, "st", "c2", "a", "Y", t0)
		is(t, err, ErrDuplicate)
		for _, tc := range []struct{ id, user, want string }{{"c2", "a", "X"}, {"c2", "b", ""}, {"c9", "a", ""}} {
			code, err := s.CouponCode(ctx, "st", tc.id, tc.user)
			ok(t, err)
			if code != tc.want {
				t.Fatalf("CouponCode(%s, %s) = %q, want %q (the first claim's code kept)", tc.id, tc.user, code, tc.want)
			}
		}
		_, err = s.ClaimCoupon(ctx, "st", "c9", "a", "Y", t0)
		is(t, err, ErrNotFound)
		all, err := s.Coupons(ctx, "st")
		ok(t, err)
		if len(all) != 2 || all[0].ID != "c1" || all[1].ID != "c2" || !all[0].ExpiresAt.Equal(c.ExpiresAt) {
			t.Fatalf("coupons = %+v", all)
		}
	})

	t.Run("draw", func(t *testing.T) {
		s := newStore(t)
		_, err := s.CurrentDraw(ctx, "st")
		is(t, err, ErrNotFound)
		d := Draw{ID: "d1", Prize: "P", Winners: 2, Eligible: DrawAll, Commitment: "c0ffee", Status: DrawOpen, OpensAt: t0, Seed: "5eed"}
		ok(t, s.CreateDraw(ctx, "st", d))
		is(t, s.CreateDraw(ctx, "st", d), ErrDuplicate)
		got, err := s.Draw(ctx, "st", "d1")
		ok(t, err)
		if got.Seed != "5eed" || got.Commitment != "c0ffee" || got.Winners != 2 {
			t.Fatalf("draw = %+v (the seed must be stored)", got)
		}
		is(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "zed"}, t0.Add(-time.Second)), ErrClosed)
		for _, u := range []string{"zed", "amy", "bob"} {
			ok(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: u, Name: "N" + u}, t0))
		}
		is(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "amy"}, t0), ErrDuplicate)
		is(t, s.EnterDraw(ctx, "st", "d9", DrawEntrant{User: "amy"}, t0), ErrNotFound)
		es, err := s.DrawEntrants(ctx, "st", "d1")
		ok(t, err)
		if want := []DrawEntrant{{"amy", "Namy"}, {"bob", "Nbob"}, {"zed", "Nzed"}}; !slices.Equal(es, want) {
			t.Fatalf("entrants = %+v, want %+v", es, want)
		}
		res := &DrawResult{ID: "d1", Prize: "P", Winners: []DrawEntrant{{"bob", "Nbob"}}, Seed: "5eed", Commitment: "c0ffee", Entrants: []string{"amy", "bob", "zed"}}
		_, err = s.UpdateDraw(ctx, "st", "d1", func(d *Draw) error { d.Status, d.Result = DrawDone, res; return nil })
		ok(t, err)
		is(t, s.EnterDraw(ctx, "st", "d1", DrawEntrant{User: "cy"}, t0), ErrClosed)
		got, err = s.Draw(ctx, "st", "d1")
		ok(t, err)
		if got.Status != DrawDone || got.Result == nil || !slices.Equal(got.Result.Winners, res.Winners) || !slices.Equal(got.Result.Entrants, res.Entrants) {
			t.Fatalf("done draw = %+v", got)
		}
		ok(t, s.CreateDraw(ctx, "st", Draw{ID: "d2", Prize: "Q", Winners: 1, Eligible: DrawKeyword, Keyword: "go", Status: DrawOpen, OpensAt: t0, Seed: "5eed"}))
		if cur, err := s.CurrentDraw(ctx, "st"); err != nil || cur.ID != "d2" || cur.Keyword != "go" {
			t.Fatalf("current draw = %+v, %v", cur, err)
		}
	})

	t.Run("commenters", func(t *testing.T) {
		s := newStore(t)
		if c, err := s.HasCommented(ctx, "st", "u1"); err != nil || c {
			t.Fatalf("HasCommented before = %v, %v", c, err)
		}
		ok(t, s.MarkCommenter(ctx, "st", "u1"))
		ok(t, s.MarkCommenter(ctx, "st", "u1"))
		if c, _ := s.HasCommented(ctx, "st", "u1"); !c {
			t.Fatal("HasCommented after MarkCommenter is false")
		}
		if c, _ := s.HasCommented(ctx, "other", "u1"); c {
			t.Fatal("commenter leaked to another stream")
		}
	})
}
