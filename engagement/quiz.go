package engagement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quiz limits. Points follow the quiz rule of the scoring rules (Scorer.Quiz), with t measured from when the
// question reached viewers.
const (
	MaxQuizQuestions   = 50
	MinQuizChoices     = 2
	MaxQuizChoices     = 6
	MinQuizTimeLimitS  = 5
	MaxQuizTimeLimitS  = 120
	MaxQuizTextRunes   = 200
	MaxQuizChoiceRunes = 80
	// QuizLeaderboardSize is how many players quiz.leaderboard lists.
	QuizLeaderboardSize = 10
)

// Quiz statuses.
const (
	QuizReady    = "ready"    // created, no question asked yet
	QuizRunning  = "running"  // a question is open or was revealed and the next is awaited
	QuizFinished = "finished" // the last question was revealed
)

// QuizItem is one question of a quiz as the host wrote it, with the answers counted per choice.
type QuizItem struct {
	Text       string   `json:"text"`
	Choices    []string `json:"choices"`
	Answer     int      `json:"answer"`
	TimeLimitS int      `json:"time_limit_s"`
	// Counts are the answers per choice (filled by the store).
	Counts []int64 `json:"counts"`
}

// Quiz is a sequence of timed questions run by a host; only the host sees it whole (answers included).
type Quiz struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Questions []QuizItem `json:"questions"`
	Count     int        `json:"count"`
	// Current is the index of the question asked last, -1 before the first.
	Current int    `json:"current"`
	Status  string `json:"status"`
	// OpensAt and Deadline bound the current question for viewers (after the video delay).
	OpensAt  time.Time `json:"opens_at,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Revealed reports whether the current question's answer was revealed (no answers accepted after).
	Revealed bool `json:"revealed"`
}

// QuizSpec is what a host gives to create a quiz.
type QuizSpec struct {
	Title     string     `json:"title"`
	Questions []QuizItem `json:"questions"`
}

func (sp QuizSpec) clean() (QuizSpec, error) {
	var out QuizSpec
	if strings.TrimSpace(sp.Title) != "" {
		t, err := CleanText("title", sp.Title, 120)
		if err != nil {
			return out, err
		}
		out.Title = t
	}
	if len(sp.Questions) < 1 || len(sp.Questions) > MaxQuizQuestions {
		return out, Invalid("questions", "a quiz has 1..%d questions", MaxQuizQuestions)
	}
	for i, q := range sp.Questions {
		field := func(name string) string { return fmt.Sprintf("questions[%d].%s", i, name) }
		text, err := CleanText(field("text"), q.Text, MaxQuizTextRunes)
		if err != nil {
			return out, err
		}
		if len(q.Choices) < MinQuizChoices || len(q.Choices) > MaxQuizChoices {
			return out, Invalid(field("choices"), "a question has %d..%d choices", MinQuizChoices, MaxQuizChoices)
		}
		choices := make([]string, len(q.Choices))
		for j, c := range q.Choices {
			if choices[j], err = CleanText(field("choices"), c, MaxQuizChoiceRunes); err != nil {
				return out, err
			}
		}
		if q.Answer < 0 || q.Answer >= len(choices) {
			return out, Invalid(field("answer"), "answer must be a choice index 0..%d", len(choices)-1)
		}
		if q.TimeLimitS < MinQuizTimeLimitS || q.TimeLimitS > MaxQuizTimeLimitS {
			return out, Invalid(field("time_limit_s"), "time_limit_s must be %d..%d", MinQuizTimeLimitS, MaxQuizTimeLimitS)
		}
		out.Questions = append(out.Questions, QuizItem{
			Text: text, Choices: choices, Answer: q.Answer, TimeLimitS: q.TimeLimitS, Counts: make([]int64, len(choices)),
		})
	}
	return out, nil
}

// QuizQuestion is a question as viewers see it (quiz.question): no answer.
type QuizQuestion struct {
	QuizID     string    `json:"quiz_id"`
	QuestionID string    `json:"question_id"`
	Index      int       `json:"index"`
	Count      int       `json:"count"`
	Text       string    `json:"text"`
	Choices    []string  `json:"choices"`
	Deadline   time.Time `json:"deadline"`
	DeadlineMS int64     `json:"deadline_ms"`
	TimeLimitS int       `json:"time_limit_s"`
}

// QuizResponse is one accepted answer, as the store keeps it.
type QuizResponse struct {
	User     string    `json:"user"`
	Name     string    `json:"name"`
	Question int       `json:"question"`
	Choice   int       `json:"choice"`
	At       time.Time `json:"at"`
}

// QuizPlayer is a player's running score in one quiz.
type QuizPlayer struct {
	User  string `json:"user"`
	Name  string `json:"name"`
	Score int64  `json:"score"`
	// Streak is the number of consecutive correct answers ending with question LastCorrect.
	Streak      int `json:"streak"`
	LastCorrect int `json:"last_correct"`
}

// QuizRank is one line of quiz.leaderboard.
type QuizRank struct {
	User  string `json:"user"`
	Name  string `json:"name"`
	Score int64  `json:"score"`
	Rank  int    `json:"rank"`
}

// QuizLeaderboard is the quiz.leaderboard frame: the top players by quiz score.
type QuizLeaderboard struct {
	QuizID string     `json:"quiz_id"`
	Top    []QuizRank `json:"top"`
	Final  bool       `json:"final"`
}

// QuizStep is what NextQuestion did: asked Question, or (Status finished) ended the quiz with Leaderboard.
type QuizStep struct {
	Status      string           `json:"status"`
	Question    *QuizQuestion    `json:"question,omitempty"`
	Leaderboard *QuizLeaderboard `json:"leaderboard,omitempty"`
}

// QuizAnswer is the quiz.answer client action. Its ack says nothing about correctness: that waits for the
// reveal, and the points follow it.
type QuizAnswer struct {
	QuizID     string `json:"quiz_id"`
	QuestionID string `json:"question_id"`
	Choice     int    `json:"choice"`
}

// FrameType implements Action.
func (QuizAnswer) FrameType() string { return "quiz.answer" }

func (a *QuizAnswer) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.answerOrReplay(ctx, actor, stream, a) // Answer, or ReplayAnswer on an ended stream (timeline.go)
}

// questionID names question index i of a quiz on the wire.
// quizError words a QuizStore rejection about quiz id (an answer's, mostly) for the user; other errors
// pass unchanged.
func quizError(err error, id string) error {
	if !bare(err) {
		return err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Errorf(CodeNotFound, "no quiz %q", id)
	case errors.Is(err, ErrNotOpenYet):
		return notYetOpen("question")
	case errors.Is(err, ErrTimeUp):
		return Errorf(CodeClosed, "time is up for this question")
	case errors.Is(err, ErrClosed):
		return Errorf(CodeClosed, "this question is not open")
	case errors.Is(err, ErrDuplicate):
		return Errorf(CodeDuplicate, "you already answered this question")
	}
	return err
}

func questionID(i int) string { return "q" + strconv.Itoa(i) }

func parseQuestionID(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, "q")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	// Only the canonical spelling: "q00" or "q+0" would name q0 under another key (a replay answer paid twice).
	return i, err == nil && i >= 0 && questionID(i) == id
}

// question returns the viewers' view of question i.
func (q Quiz) question(i int) QuizQuestion {
	item := q.Questions[i]
	return QuizQuestion{
		QuizID: q.ID, QuestionID: questionID(i), Index: i, Count: q.Count, Text: item.Text, Choices: item.Choices,
		Deadline: q.Deadline, DeadlineMS: unixMS(q.Deadline), TimeLimitS: item.TimeLimitS,
	}
}

// asking reports whether the current question accepts answers at now.
func (q Quiz) asking(now time.Time) bool {
	return q.Status == QuizRunning && q.Current >= 0 && !q.Revealed && !now.Before(q.OpensAt) && now.Before(q.Deadline)
}

// doCreateQuiz is CreateQuiz (act.go), less the admission and the publication of its events.
func (s *Service) doCreateQuiz(ctx context.Context, actor Actor, stream string, spec QuizSpec) (Quiz, error) {
	if _, err := s.runStream(ctx, actor, stream); err != nil {
		return Quiz{}, err
	}
	spec, err := spec.clean()
	if err != nil {
		return Quiz{}, err
	}
	active, err := s.store.ActiveQuiz(ctx, stream)
	if err = ignoreNotFound(err); err != nil {
		return Quiz{}, fmt.Errorf("active quiz of %s: %w", stream, err)
	}
	if active.Status == QuizRunning {
		return Quiz{}, Invalid("quiz", "quiz %s is still running", active.ID)
	}
	q := Quiz{ID: s.newItemID(), Title: spec.Title, Questions: spec.Questions, Count: len(spec.Questions), Current: -1, Status: QuizReady}
	if err := s.store.CreateQuiz(ctx, stream, q); err != nil {
		return Quiz{}, fmt.Errorf("create quiz on %s: %w", stream, err) // ids are fresh: no rejection to word
	}
	return q, nil
}

// Quiz returns a quiz with its per-question answer counts to the stream's host.
func (s *Service) Quiz(ctx context.Context, actor Actor, stream, quizID string) (Quiz, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return Quiz{}, err
	}
	q, err := s.store.Quiz(ctx, stream, quizID)
	if err != nil {
		return Quiz{}, fmt.Errorf("get quiz %s: %w", quizID, quizError(err, quizID))
	}
	return q, nil
}

// errQuizMoved stops a quiz update that another caller (a tick, a second click, another node) got to first.
var errQuizMoved = Errorf(CodeClosed, "the quiz has moved on")

// doNextQuestion is NextQuestion (act.go), less the admission and the publication of its events.
func (s *Service) doNextQuestion(ctx context.Context, actor Actor, stream, quizID string) (QuizStep, Outcome, error) {
	st, err := s.runStream(ctx, actor, stream)
	if err != nil {
		return QuizStep{}, Outcome{}, err
	}
	q, err := s.store.Quiz(ctx, stream, quizID)
	if err != nil {
		return QuizStep{}, Outcome{}, fmt.Errorf("get quiz %s: %w", quizID, quizError(err, quizID))
	}
	out := Outcome{Stream: stream}
	if q.Status == QuizRunning && !q.Revealed {
		o, err := s.revealQuestion(ctx, stream, quizID, q.Current)
		if err != nil {
			return QuizStep{}, Outcome{}, err
		}
		out.Merge(o)
		q.Revealed = true
		if q.Current == q.Count-1 {
			q.Status = QuizFinished
		}
	}
	if q.Status == QuizFinished {
		lb, err := s.quizLeaderboard(ctx, stream, quizID, true, nil)
		if err != nil {
			return QuizStep{}, Outcome{}, err
		}
		s.record(ctx, out)
		return QuizStep{Status: QuizFinished, Leaderboard: &lb}, out, nil
	}

	next := q.Current + 1
	opens := s.now().Add(st.videoDelay()).UTC()
	q, err = s.store.UpdateQuiz(ctx, stream, quizID, func(q *Quiz) error {
		if q.Current != next-1 || q.Status == QuizFinished || (q.Current >= 0 && !q.Revealed) {
			return errQuizMoved
		}
		q.Current, q.Status, q.Revealed = next, QuizRunning, false
		q.OpensAt = opens
		q.Deadline = opens.Add(time.Duration(q.Questions[next].TimeLimitS) * time.Second)
		return nil
	})
	if err != nil {
		return QuizStep{}, Outcome{}, fmt.Errorf("ask question %d of quiz %s: %w", next, quizID, quizError(err, quizID))
	}
	qq := q.question(next)
	s.emit(ctx, EventQuizQuestion, stream, actor.User, map[string]any{
		"quiz_id": quizID, "question_id": qq.QuestionID, "stream": stream, "index": next, "time_limit_s": qq.TimeLimitS,
	})
	out.Broadcast = append(out.Broadcast, Frame{Type: "quiz.question", Data: qq})
	out.Delay = st.videoDelay()
	s.record(ctx, out)
	return QuizStep{Status: QuizRunning, Question: &qq}, out, nil
}

// Answer records actor's answer to the open question of a quiz: once per question, before its deadline.
func (s *Service) Answer(ctx context.Context, actor Actor, stream, quizID, questionID string, choice int) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actAnswer); err != nil {
		return Outcome{}, err
	}
	if quizID == "" {
		return Outcome{}, Invalid("quiz_id", "quiz_id is required")
	}
	k, ok := parseQuestionID(questionID)
	if !ok {
		return Outcome{}, Invalid("question_id", "no question %q", questionID)
	}
	q, err := s.store.Quiz(ctx, stream, quizID)
	if err != nil {
		return Outcome{}, fmt.Errorf("get quiz %s: %w", quizID, quizError(err, quizID))
	}
	if k >= q.Count {
		return Outcome{}, Invalid("question_id", "no question %q", questionID)
	}
	if choice < 0 || choice >= len(q.Questions[k].Choices) {
		return Outcome{}, Invalid("choice", "choice must be 0..%d", len(q.Questions[k].Choices)-1)
	}
	now := s.now().UTC()
	if k == q.Current && now.Before(q.OpensAt) {
		return Outcome{}, notYetOpen("question")
	}
	r := QuizResponse{User: actor.User, Name: actor.Name, Question: k, Choice: choice, At: now}
	if err := s.store.AnswerQuiz(ctx, stream, quizID, r, now); err != nil {
		return Outcome{}, fmt.Errorf("answer quiz %s: %w", quizID, quizError(err, quizID))
	}
	s.emit(ctx, EventQuizAnswered, stream, actor.User, map[string]any{
		"quiz_id": quizID, "question_id": questionID, "stream": stream, "choice": choice,
		"correct": choice == q.Questions[k].Answer, "answer_ms": now.Sub(q.OpensAt).Milliseconds(),
	})
	return Outcome{Stream: stream}, nil
}

// revealQuestion closes question k of a quiz, scores its correct answers and announces the answer and the
// leaderboard. Only the caller whose update marks it revealed does so; others get an empty outcome.
func (s *Service) revealQuestion(ctx context.Context, stream, quizID string, k int) (Outcome, error) {
	out := Outcome{Stream: stream}
	q, err := s.store.UpdateQuiz(ctx, stream, quizID, func(q *Quiz) error {
		if q.Current != k || q.Revealed || q.Status != QuizRunning {
			return errQuizMoved
		}
		q.Revealed = true
		if k == q.Count-1 {
			q.Status = QuizFinished
		}
		return nil
	})
	if errors.Is(err, errQuizMoved) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("reveal question %d of quiz %s: %w", k, quizID, quizError(err, quizID))
	}
	answers, err := s.store.QuizAnswers(ctx, stream, quizID, k)
	if err != nil {
		return out, fmt.Errorf("answers of quiz %s: %w", quizID, quizError(err, quizID))
	}
	list, err := s.store.QuizPlayers(ctx, stream, quizID)
	if err != nil {
		return out, fmt.Errorf("players of quiz %s: %w", quizID, quizError(err, quizID))
	}
	players := make(map[string]QuizPlayer, len(list))
	for _, p := range list {
		players[p.User] = p
	}
	item := q.Questions[k]
	limit := time.Duration(item.TimeLimitS) * time.Second
	counts := make([]int64, len(item.Choices))
	var scored []QuizPlayer
	for _, a := range answers {
		counts[a.Choice]++
		if a.Choice != item.Answer {
			continue
		}
		p := players[a.User]
		p.User, p.Name = a.User, a.Name
		streak := 0
		if p.Streak > 0 && p.LastCorrect == k-1 {
			streak = p.Streak
		}
		pts := s.scorerFor(a.User).Quiz(true, a.At.Sub(q.OpensAt), limit, streak, false)
		p.Score += pts
		p.Streak, p.LastCorrect = streak+1, k
		players[a.User] = p
		scored = append(scored, p)
		out.Merge(s.award(ctx, Actor{User: a.User, Name: a.Name}, stream, Scored{
			Key: fmt.Sprintf("quiz:%s:%s:%s", quizID, questionID(k), a.User), Source: SourceQuiz, Points: pts, Reason: "Correct quiz answer",
		}))
	}
	if err := s.store.SaveQuizPlayers(ctx, stream, quizID, scored); err != nil {
		return out, fmt.Errorf("save scores of quiz %s: %w", quizID, quizError(err, quizID))
	}
	final := q.Status == QuizFinished
	lb, err := s.quizLeaderboard(ctx, stream, quizID, final, players)
	if err != nil {
		return out, err
	}
	correct := counts[item.Answer]
	reveal := map[string]any{
		"quiz_id": quizID, "question_id": questionID(k), "answer": item.Answer, "counts": counts,
		"correct": correct, "total": int64(len(answers)),
	}
	s.emit(ctx, EventQuizRevealed, stream, "", map[string]any{
		"quiz_id": quizID, "question_id": questionID(k), "stream": stream, "answer": item.Answer,
		"counts": counts, "correct": correct, "total": len(answers),
	})
	out.Broadcast = append(out.Broadcast, Frame{Type: "quiz.reveal", Data: reveal}, Frame{Type: "quiz.leaderboard", Data: lb})
	return out, nil
}

// quizLeaderboard ranks a quiz's players by score (ties share a rank; then by user id). players may be
// passed when the caller has them; nil reads them from the store.
func (s *Service) quizLeaderboard(ctx context.Context, stream, quizID string, final bool, players map[string]QuizPlayer) (QuizLeaderboard, error) {
	var list []QuizPlayer
	if players == nil {
		var err error
		if list, err = s.store.QuizPlayers(ctx, stream, quizID); err != nil {
			return QuizLeaderboard{}, fmt.Errorf("players of quiz %s: %w", quizID, quizError(err, quizID))
		}
	} else {
		for _, p := range players {
			list = append(list, p)
		}
	}
	slices.SortFunc(list, func(a, b QuizPlayer) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.User, b.User))
	})
	top := make([]QuizRank, 0, min(len(list), QuizLeaderboardSize))
	for i, p := range list[:min(len(list), QuizLeaderboardSize)] {
		rank := i + 1
		if i > 0 && p.Score == top[i-1].Score {
			rank = top[i-1].Rank
		}
		top = append(top, QuizRank{User: p.User, Name: p.Name, Score: p.Score, Rank: rank})
	}
	return QuizLeaderboard{QuizID: quizID, Top: top, Final: final}, nil
}

func roomQuiz(ctx context.Context, s *Service, st Stream, w *Welcome) error {
	q, err := s.store.ActiveQuiz(ctx, st.ID)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			return fmt.Errorf("active quiz of %s: %w", st.ID, err)
		}
		return nil
	}
	if q.asking(s.now()) {
		w.Quiz = q.question(q.Current)
	}
	return nil
}

// tickQuiz reveals the active quiz's question once its deadline has passed.
func tickQuiz(ctx context.Context, s *Service, stream string) (Outcome, error) {
	q, err := s.store.ActiveQuiz(ctx, stream)
	if err != nil {
		if err = ignoreNotFound(err); err != nil {
			return Outcome{}, fmt.Errorf("active quiz of %s: %w", stream, err)
		}
		return Outcome{}, nil
	}
	if q.Status != QuizRunning || q.Current < 0 || q.Revealed || s.now().Before(q.Deadline) {
		return Outcome{}, nil
	}
	return s.revealQuestion(ctx, stream, q.ID, q.Current)
}

// QuizStore keeps quizzes, answers and the players' quiz scores. A stream's active quiz is the one created
// last.
type QuizStore interface {
	// CreateQuiz stores q and makes it the stream's active quiz; ErrDuplicate if the id is taken.
	CreateQuiz(ctx context.Context, stream string, q Quiz) error
	// Quiz returns a quiz with the answer counts of each question, or ErrNotFound.
	Quiz(ctx context.Context, stream, id string) (Quiz, error)
	// ActiveQuiz returns the stream's active quiz, or ErrNotFound.
	ActiveQuiz(ctx context.Context, stream string) (Quiz, error)
	// UpdateQuiz applies fn to the stored quiz and stores the result. Atomic as StreamStore.UpdateStream: fn
	// may run more than once, must have no side effects, and its error is returned unchanged. fn must not
	// change the questions' counts, which only AnswerQuiz does.
	UpdateQuiz(ctx context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error)
	// AnswerQuiz records a's answer to question a.Question of the quiz. Atomic: ErrNotFound for an unknown
	// quiz; ErrClosed unless that question is the current one, not revealed, and OpensAt <= now < Deadline;
	// ErrInvalid for a choice out of range; ErrDuplicate if the user already answered it. An accepted answer
	// adds one to the choice's count.
	AnswerQuiz(ctx context.Context, stream, quizID string, a QuizResponse, now time.Time) error
	// QuizAnswers returns the answers given to one question of a quiz, in the order they were accepted.
	QuizAnswers(ctx context.Context, stream, quizID string, question int) ([]QuizResponse, error)
	// QuizPlayers returns every player's running score in a quiz (any order).
	QuizPlayers(ctx context.Context, stream, quizID string) ([]QuizPlayer, error)
	// SaveQuizPlayers stores the given players' records, replacing earlier ones of the same users. Only the
	// one caller that revealed a question (UpdateQuiz setting Revealed) calls it, so it need not be atomic
	// with anything else.
	SaveQuizPlayers(ctx context.Context, stream, quizID string, players []QuizPlayer) error
}
