package engagement

import (
	"testing"
	"time"
)

func TestScorerQuiz(t *testing.T) {
	s := NewScorer(DefaultRules())
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	tests := []struct {
		name    string
		correct bool
		elapsed time.Duration
		limit   time.Duration
		streak  int
		replay  bool
		want    int64
	}{
		{"instant answer earns the max", true, 0, sec(20), 0, false, 100},
		{"answer at the limit earns half", true, sec(20), sec(20), 0, false, 50},
		{"answer halfway earns 75", true, sec(10), sec(20), 0, false, 75},
		{"after the limit earns nothing", true, sec(20) + time.Millisecond, sec(20), 0, false, 0},
		{"long after the limit", true, sec(60), sec(20), 3, false, 0},
		{"wrong answer earns nothing", false, 0, sec(20), 4, false, 0},
		{"no time limit earns nothing", true, 0, 0, 0, false, 0},
		{"negative limit earns nothing", true, 0, -sec(1), 0, false, 0},
		{"negative elapsed counts as instant", true, -sec(1), sec(20), 0, false, 100},
		{"97.5 rounds half up", true, sec(1), sec(20), 0, false, 98},
		{"92.5 rounds half up", true, sec(3), sec(20), 0, false, 93},
		{"83.33 rounds down", true, sec(10), sec(30), 0, false, 83},
		{"66.67 rounds up", true, sec(20), sec(30), 0, false, 67},
		{"sub-millisecond is instant", true, 999 * time.Microsecond, sec(20), 0, false, 100},
		{"streak 1 adds 10", true, 0, sec(20), 1, false, 110},
		{"streak 4 adds 40", true, sec(20), sec(20), 4, false, 90},
		{"streak 5 adds the max 50", true, 0, sec(20), 5, false, 150},
		{"streak 6 is capped at 50", true, 0, sec(20), 6, false, 150},
		{"streak 100 is capped at 50", true, sec(10), sec(20), 100, false, 125},
		{"negative streak adds nothing", true, 0, sec(20), -2, false, 100},
		{"replay halves", true, 0, sec(20), 0, true, 50},
		{"replay halves 75 down to 37", true, sec(10), sec(20), 0, true, 37},
		{"replay halves the bonus too", true, sec(20), sec(20), 5, true, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Quiz(tt.correct, tt.elapsed, tt.limit, tt.streak, tt.replay)
			if got != tt.want {
				t.Fatalf("Quiz(%v, %v, %v, %d, %v) = %d, want %d", tt.correct, tt.elapsed, tt.limit, tt.streak, tt.replay, got, tt.want)
			}
		})
	}
}

func TestNextQuizStreak(t *testing.T) {
	tests := []struct {
		streak  int
		correct bool
		want    int
	}{
		{0, true, 1}, {4, true, 5}, {9, true, 10}, {3, false, 0}, {0, false, 0}, {-1, true, 1},
	}
	for _, tt := range tests {
		if got := NextQuizStreak(tt.streak, tt.correct); got != tt.want {
			t.Errorf("NextQuizStreak(%d, %v) = %d, want %d", tt.streak, tt.correct, got, tt.want)
		}
	}
	// A run of answers: the bonus counts the correct answers before each one.
	s := NewScorer(DefaultRules())
	streak := 0
	var got []int64
	for _, correct := range []bool{true, true, false, true, true, true, true, true, true, true} {
		got = append(got, s.Quiz(correct, 0, 10*time.Second, streak, false))
		streak = NextQuizStreak(streak, correct)
	}
	want := []int64{100, 110, 0, 100, 110, 120, 130, 140, 150, 150}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("run of answers scored %v, want %v", got, want)
		}
	}
}

func TestScorerWatch(t *testing.T) {
	s := NewScorer(DefaultRules())
	tests := []struct {
		name           string
		seconds, given int64
		replay         bool
		want           int64
	}{
		{"nothing watched", 0, 0, false, 0},
		{"negative seconds", -60, 0, false, 0},
		{"59 seconds is no full minute", 59, 0, false, 0},
		{"one full minute", 60, 0, false, 1},
		{"119 seconds", 119, 0, false, 1},
		{"two minutes", 120, 0, false, 2},
		{"an hour reaches the cap", 3600, 0, false, 60},
		{"two hours stay at the cap", 7200, 0, false, 60},
		{"only what is not given yet", 3600, 30, false, 30},
		{"all given already", 7200, 60, false, 0},
		{"never negative", 300, 10, false, 0},
		{"replay: ten minutes earn half", 600, 0, true, 5},
		{"replay: one minute rounds down to nothing", 61, 0, true, 0},
		{"replay: still capped", 36000, 0, true, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Watch(tt.seconds, tt.given, tt.replay); got != tt.want {
				t.Fatalf("Watch(%d, %d, %v) = %d, want %d", tt.seconds, tt.given, tt.replay, got, tt.want)
			}
		})
	}
}

func TestScorerLimited(t *testing.T) {
	s := NewScorer(DefaultRules())
	now := time.Date(2026, time.May, 1, 12, 0, 0, 0, time.UTC)
	type scoreFunc func(LimitState, time.Time, bool) int64
	tests := []struct {
		name   string
		score  scoreFunc
		st     LimitState
		replay bool
		want   int64
	}{
		{"comment: first", s.Comment, LimitState{}, false, 1},
		{"comment: 29.999 s after the last", s.Comment, LimitState{Count: 1, Last: now.Add(-30*time.Second + time.Millisecond)}, false, 0},
		{"comment: 30 s after the last", s.Comment, LimitState{Count: 1, Last: now.Add(-30 * time.Second)}, false, 1},
		{"comment: the 10th", s.Comment, LimitState{Count: 9, Last: now.Add(-time.Hour)}, false, 1},
		{"comment: the 11th", s.Comment, LimitState{Count: 10, Last: now.Add(-time.Hour)}, false, 0},
		{"comment: replay rounds 0.5 down", s.Comment, LimitState{}, true, 0},
		{"question: first", s.QuestionAsk, LimitState{}, false, 2},
		{"question: replay", s.QuestionAsk, LimitState{}, true, 1},
		{"question: 20 s after the last", s.QuestionAsk, LimitState{Count: 1, Last: now.Add(-20 * time.Second)}, false, 0},
		{"question: the 6th", s.QuestionAsk, LimitState{Count: 5, Last: now.Add(-time.Hour)}, false, 0},
		{"upvote: first", s.QuestionUpvote, LimitState{}, false, 1},
		{"upvote: 5 s after the last", s.QuestionUpvote, LimitState{Count: 3, Last: now.Add(-5 * time.Second)}, false, 1},
		{"upvote: 4 s after the last", s.QuestionUpvote, LimitState{Count: 3, Last: now.Add(-4 * time.Second)}, false, 0},
		{"upvote: the 11th", s.QuestionUpvote, LimitState{Count: 10}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.score(tt.st, now, tt.replay); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}

	// Zero limits mean no limit.
	r := DefaultRules()
	r.Comment = LimitRule{Points: 3}
	free := NewScorer(r)
	if got := free.Comment(LimitState{Count: 1000, Last: now}, now, false); got != 3 {
		t.Fatalf("unlimited comment scored %d, want 3", got)
	}
	// The caller's state advances only on a scored interaction.
	st := LimitState{}
	var scored int
	for i := range 40 {
		at := now.Add(time.Duration(i) * 10 * time.Second) // one comment every 10 s for 400 s
		if s.Comment(st, at, false) > 0 {
			st = st.Next(at)
			scored++
		}
	}
	if scored != 10 || st.Count != 10 {
		t.Fatalf("a comment every 10 s scored %d times (state %+v), want 10", scored, st)
	}
}

func TestScorerOnceAndPurchase(t *testing.T) {
	s := NewScorer(DefaultRules())
	tests := []struct {
		name string
		got  int64
		want int64
	}{
		{"poll vote", s.PollVote(false), 5},
		{"poll vote on a replay", s.PollVote(true), 2},
		{"feedback", s.Feedback(false, false), 5},
		{"feedback given already", s.Feedback(true, false), 0},
		{"feedback on a replay", s.Feedback(false, true), 2},
		{"like", s.Like(), 0},
		{"purchase ¥123.45", s.Purchase(12345), 123},
		{"purchase ¥0.99", s.Purchase(99), 0},
		{"purchase ¥1.00", s.Purchase(100), 1},
		{"purchase ¥1.99", s.Purchase(199), 1},
		{"purchase of nothing", s.Purchase(0), 0},
		{"negative amount", s.Purchase(-500), 0},
		{"purchase ¥100000", s.Purchase(10_000_000), 100_000},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestScorerForUser(t *testing.T) {
	r := DefaultRules()
	r.Arms = []string{"a", "b"}
	quizMax := QuizRule{Max: 200, StreakBonus: 10, StreakBonusMax: 50}
	r.Variants = map[string]RulesOverride{"b": {Quiz: &quizMax}}
	s := NewScorer(r)
	tests := []struct {
		user     string
		wantArm  string
		wantQuiz int64
	}{
		{"ann", "a", 100}, {"bob", "a", 100}, {"cat", "b", 200}, {"user-42", "b", 200},
	}
	for _, tt := range tests {
		us := s.ForUser(tt.user)
		if us.Arm() != tt.wantArm || us.Quiz(true, 0, time.Second, 0, false) != tt.wantQuiz {
			t.Errorf("ForUser(%s): arm %q quiz %d, want %q %d", tt.user, us.Arm(), us.Quiz(true, 0, time.Second, 0, false), tt.wantArm, tt.wantQuiz)
		}
		if us.ForUser("someone else") != us {
			t.Errorf("ForUser on an arm's scorer must return it")
		}
	}
	if s.Arm() != "" || s.Quiz(true, 0, time.Second, 0, false) != 100 {
		t.Errorf("base scorer: arm %q, quiz %d", s.Arm(), s.Quiz(true, 0, time.Second, 0, false))
	}
	if got := NewScorer(DefaultRules()).ForUser("anyone").Arm(); got != DefaultArm {
		t.Errorf("single-arm scorer arm %q, want %q", got, DefaultArm)
	}
}
