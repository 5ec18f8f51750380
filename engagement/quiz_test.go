package engagement

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestQuizSpecInvalid(t *testing.T) {
	ok := QuizItem{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 10}
	with := func(fn func(*QuizItem)) []QuizItem {
		q := ok
		fn(&q)
		return []QuizItem{ok, q}
	}
	tests := []struct {
		name  string
		spec  QuizSpec
		field string
	}{
		{"no questions", QuizSpec{}, "questions"},
		{"too many questions", QuizSpec{Questions: make([]QuizItem, MaxQuizQuestions+1)}, "questions"},
		{"empty text", QuizSpec{Questions: with(func(q *QuizItem) { q.Text = "" })}, "questions[1].text"},
		{"one choice", QuizSpec{Questions: with(func(q *QuizItem) { q.Choices = []string{"a"} })}, "questions[1].choices"},
		{"seven choices", QuizSpec{Questions: with(func(q *QuizItem) { q.Choices = strings.Split("abcdefg", "") })}, "questions[1].choices"},
		{"answer out of range", QuizSpec{Questions: with(func(q *QuizItem) { q.Answer = 2 })}, "questions[1].answer"},
		{"time limit too short", QuizSpec{Questions: with(func(q *QuizItem) { q.TimeLimitS = 4 })}, "questions[1].time_limit_s"},
		{"time limit too long", QuizSpec{Questions: with(func(q *QuizItem) { q.TimeLimitS = 121 })}, "questions[1].time_limit_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFixture(t, 0)
			_, err := f.svc.CreateQuiz(context.Background(), f.host1, "s1", tt.spec)
			if !isInvalidField(err, tt.field) {
				t.Fatalf("err = %#v, want invalid with field %q", err, tt.field)
			}
		})
	}
}

func twoQuestionQuiz() QuizSpec {
	return QuizSpec{Title: "Warm-up", Questions: []QuizItem{
		{Text: "2+2?", Choices: []string{"3", "4", "5"}, Answer: 1, TimeLimitS: 20},
		{Text: "Capital of France?", Choices: []string{"Paris", "Lyon"}, Answer: 0, TimeLimitS: 10},
	}}
}

func TestQuizRun(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", twoQuestionQuiz())
	if err != nil {
		t.Fatal(err)
	}
	if q.Current != -1 || q.Status != QuizReady || q.Count != 2 {
		t.Fatalf("created quiz = %+v", q)
	}
	_, err = f.svc.Answer(ctx, viewer("a"), "s1", q.ID, "q0", 1)
	wantHostCode(t, err, CodeClosed) // nothing asked yet

	step, out, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if step.Question == nil || step.Question.QuestionID != "q0" || step.Question.TimeLimitS != 20 {
		t.Fatalf("step = %+v", step)
	}
	if want := f.clock.Now().Add(20 * time.Second); !step.Question.Deadline.Equal(want) || step.Question.DeadlineMS != want.UnixMilli() {
		t.Fatalf("deadline = %v, want %v", step.Question.Deadline, want)
	}
	qf := framesOf(out.Broadcast, "quiz.question")
	if len(qf) != 1 {
		t.Fatalf("outcome = %+v", out)
	}
	if b, _ := json.Marshal(qf[0].Data); strings.Contains(string(b), "answer") {
		t.Fatalf("quiz.question leaks the answer: %s", b)
	}
	if w, err := f.svc.Join(ctx, viewer("late"), "s1"); err != nil || w.Quiz == nil {
		t.Fatalf("welcome quiz = %#v, %v", w.Quiz, err)
	}

	// question 0: a right at once, b right at 10 s, c wrong, then a duplicate and a late answer
	answers := []struct {
		after  time.Duration
		user   string
		choice int
		code   Code
	}{
		{0, "a", 1, ""},
		{10 * time.Second, "b", 1, ""},
		{0, "c", 0, ""},
		{0, "a", 0, CodeDuplicate},
		{0, "d", 3, CodeInvalid},
		{10 * time.Second, "d", 1, CodeClosed}, // at the deadline exactly
	}
	for _, a := range answers {
		f.clock.Advance(a.after)
		_, err := f.svc.Answer(ctx, viewer(a.user), "s1", q.ID, "q0", a.choice)
		wantHostCode(t, err, a.code)
	}
	out, err = f.svc.Tick(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	rev := framesOf(out.Broadcast, "quiz.reveal")
	lb := framesOf(out.Broadcast, "quiz.leaderboard")
	if len(rev) != 1 || len(lb) != 1 {
		t.Fatalf("tick outcome = %+v", out)
	}
	if b, _ := json.Marshal(rev[0].Data); !strings.Contains(string(b), `"answer":1,"correct":2,"counts":[1,2,0]`) || !strings.Contains(string(b), `"total":3`) {
		t.Fatalf("quiz.reveal = %s", b)
	}
	board := lb[0].Data.(QuizLeaderboard)
	if board.Final || len(board.Top) != 2 || board.Top[0].User != "a" || board.Top[0].Score != 100 || board.Top[1].Score != 75 {
		t.Fatalf("leaderboard = %+v", board)
	}
	if out, _ := f.svc.Tick(ctx, "s1"); !out.Empty() {
		t.Fatalf("revealed twice: %+v", out)
	}

	// question 1: a right after 5 s (streak 1: 75 + 10), b wrong; the host moves on before the deadline
	if _, _, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Answer(ctx, viewer("a"), "s1", q.ID, "q0", 1)
	wantHostCode(t, err, CodeClosed) // the old question
	f.clock.Advance(5 * time.Second)
	wantHostCode(t, answerErr(f.svc.Answer(ctx, viewer("a"), "s1", q.ID, "q1", 0)), "")
	wantHostCode(t, answerErr(f.svc.Answer(ctx, viewer("b"), "s1", q.ID, "q1", 1)), "")
	step, out, err = f.svc.NextQuestion(ctx, f.host1, "s1", q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if step.Status != QuizFinished || step.Leaderboard == nil || !step.Leaderboard.Final {
		t.Fatalf("final step = %+v", step)
	}
	if got := step.Leaderboard.Top[0]; got.User != "a" || got.Score != 100+85 || got.Rank != 1 {
		t.Fatalf("winner = %+v", got)
	}
	if len(framesOf(out.Broadcast, "quiz.reveal")) != 1 || len(framesOf(out.Broadcast, "quiz.leaderboard")) != 1 {
		t.Fatalf("final outcome = %+v", out)
	}
	_, err = f.svc.Answer(ctx, viewer("c"), "s1", q.ID, "q1", 0)
	wantHostCode(t, err, CodeClosed)
	if step, out, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil || step.Status != QuizFinished || !out.Empty() {
		t.Fatalf("next after the end = %+v %+v %v", step, out, err)
	}
	got, err := f.svc.Quiz(ctx, f.host1, "s1", q.ID)
	if err != nil || got.Status != QuizFinished || got.Questions[0].Counts[1] != 2 {
		t.Fatalf("quiz = %+v, %v", got, err)
	}
	if n := len(f.eventsOf(EventQuizRevealed)); n != 2 {
		t.Fatalf("%d quiz.revealed events, want 2", n)
	}
	if n := len(f.eventsOf(EventQuizAnswered)); n != 5 {
		t.Fatalf("%d quiz.answered events, want 5", n)
	}
}

func answerErr(_ Outcome, err error) error { return err }

func TestQuizOneAtATime(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	q, err := f.svc.CreateQuiz(ctx, f.host1, "s1", twoQuestionQuiz())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.NextQuestion(ctx, f.host1, "s1", q.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateQuiz(ctx, f.host1, "s1", twoQuestionQuiz()); !isInvalidField(err, "quiz") {
		t.Fatalf("second quiz while running: %v", err)
	}
}
