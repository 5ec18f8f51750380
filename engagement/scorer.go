package engagement

import (
	"math"
	"time"
)

// Scorer turns interactions into base points under Rules: pure arithmetic, no I/O, no state. The caller
// keeps per-user, per-stream counters (LimitState, watch points so far, quiz streaks) and passes them in;
// the ledger (package rewards) then applies tiers, the monthly cap and idempotency.
//
// Every method returns 0 for an interaction that scores nothing; the caller then leaves its counters
// alone. Limits of 0 in the rules mean "no limit". On replays (ended streams) points are multiplied by
// Rules.ReplayShare and rounded down. A Scorer is safe for concurrent use.
type Scorer struct {
	rules Rules
	arm   string
	arms  []string           // the arms in the rules' order; nil for an arm's own scorer
	byArm map[string]*Scorer // an arm's scorer by arm name
}

// NewScorer returns a Scorer for r (validate r first: LoadRules does). It scores with the base rules;
// ForUser returns the scorer of a user's A/B arm.
func NewScorer(r Rules) *Scorer {
	s := &Scorer{rules: r.ForArm(""), arms: r.arms(), byArm: map[string]*Scorer{}}
	for _, arm := range s.arms {
		s.byArm[arm] = &Scorer{rules: r.ForArm(arm), arm: arm}
	}
	return s
}

// ForUser returns the Scorer of user's arm (Rules.ArmFor); its Arm goes into events as the variant.
// On an arm's scorer it returns that scorer.
func (s *Scorer) ForUser(user string) *Scorer {
	if s.arms == nil {
		return s
	}
	return s.byArm[Rules{Arms: s.arms}.ArmFor(user)]
}

// Arm returns the arm this scorer scores for ("" for the base scorer from NewScorer).
func (s *Scorer) Arm() string { return s.arm }

// Rules returns the rules this scorer applies (an arm's, with its variant applied).
func (s *Scorer) Rules() Rules { return s.rules }

// LimitState is what the caller remembers of one user's scored comments (or questions, or upvotes) in one
// stream: how many scored and when the last one did.
type LimitState struct {
	Count int64
	Last  time.Time
}

// Next returns the state after an interaction at at scored.
func (st LimitState) Next(at time.Time) LimitState { return LimitState{Count: st.Count + 1, Last: at} }

// Watch returns the watch points due now for a user who has watched watchedSeconds of a stream in total
// and was already given scored watch points for it: PerMinute per full minute, at most MaxPerStream.
func (s *Scorer) Watch(watchedSeconds, scored int64, replay bool) int64 {
	if watchedSeconds <= 0 {
		return 0
	}
	due := s.share(watchedSeconds/60*s.rules.Watch.PerMinute, replay)
	if m := s.rules.Watch.MaxPerStream; m > 0 {
		due = min(due, m)
	}
	return max(0, due-scored)
}

// Comment scores a comment at at: Points, unless the user already has MaxPerStream scored comments in the
// stream or scored one less than MinIntervalS seconds ago.
func (s *Scorer) Comment(st LimitState, at time.Time, replay bool) int64 {
	return s.limited(s.rules.Comment, st, at, replay)
}

// QuestionAsk scores asking a product question, limited like comments.
func (s *Scorer) QuestionAsk(st LimitState, at time.Time, replay bool) int64 {
	return s.limited(s.rules.QuestionAsk, st, at, replay)
}

// QuestionUpvote scores upvoting a product question, limited like comments.
func (s *Scorer) QuestionUpvote(st LimitState, at time.Time, replay bool) int64 {
	return s.limited(s.rules.QuestionUpvote, st, at, replay)
}

func (s *Scorer) limited(rule LimitRule, st LimitState, at time.Time, replay bool) int64 {
	if rule.MaxPerStream > 0 && st.Count >= rule.MaxPerStream {
		return 0
	}
	if !st.Last.IsZero() && at.Sub(st.Last) < time.Duration(rule.MinIntervalS)*time.Second {
		return 0
	}
	return s.share(rule.Points, replay)
}

// PollVote scores a vote; the poll accepts one vote per user, which makes it once per poll.
func (s *Scorer) PollVote(replay bool) int64 { return s.share(s.rules.Poll.Points, replay) }

// Feedback scores feedback, once per stream: nothing if the user already gave some.
func (s *Scorer) Feedback(alreadyGiven, replay bool) int64 {
	if alreadyGiven {
		return 0
	}
	return s.share(s.rules.Feedback.Points, replay)
}

// Purchase scores an order of amountFen fen: PerYuan per whole yuan, rounded down (12345 fen → 123).
// Replays do not scale purchases.
func (s *Scorer) Purchase(amountFen int64) int64 {
	if amountFen <= 0 {
		return 0
	}
	return amountFen / 100 * s.rules.Purchase.PerYuan
}

// Like scores a like: always nothing, so likes cannot be farmed.
func (s *Scorer) Like() int64 { return 0 }

// Quiz scores an answer given elapsed after the question opened, with limit the question's time limit:
//
//	round(Max × (1 − (elapsed/limit)/2)) + min(StreakBonus × streak, StreakBonusMax)
//
// rounded half up, for a correct answer; 0 for a wrong one, for one after the limit (elapsed > limit), or
// without a limit. elapsed = 0 earns Max, elapsed = limit earns Max/2. streak counts the correct answers in
// a row BEFORE this one in the same quiz (as Kahoot does), so a first correct answer has no bonus; keep it
// with NextQuizStreak.
func (s *Scorer) Quiz(correct bool, elapsed, limit time.Duration, streak int, replay bool) int64 {
	if !correct || limit <= 0 || elapsed > limit {
		return 0
	}
	// At millisecond precision, in integers: round(N / D) = floor((2N + D) / 2D) with N = Max × (2T − t)
	// and D = 2T; this is round(Max × (1 − (t/T)/2)) with halves rounded up.
	t, limitMS := max(elapsed, 0).Milliseconds(), limit.Milliseconds()
	if limitMS <= 0 {
		return 0
	}
	n := s.rules.Quiz.Max * (2*limitMS - t)
	d := 2 * limitMS
	points := (2*n + d) / (2 * d)
	bonus := s.rules.Quiz.StreakBonus * int64(max(streak, 0))
	if m := s.rules.Quiz.StreakBonusMax; m > 0 {
		bonus = min(bonus, m)
	}
	return s.share(points+bonus, replay)
}

// NextQuizStreak returns the streak to pass for the next answer of the same quiz.
func NextQuizStreak(streak int, correct bool) int {
	if !correct {
		return 0
	}
	return max(streak, 0) + 1
}

// share scales points by ReplayShare on replays, rounding down.
func (s *Scorer) share(points int64, replay bool) int64 {
	if !replay {
		return points
	}
	return points * int64(math.Round(s.rules.ReplayShare*10000)) / 10000
}
