package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
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

func testQuizStore(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := storeT0
	_, err := s.ActiveQuiz(ctx, "st")
	isErr(t, err, ErrNotFound)
	q := Quiz{ID: "q1", Title: "T", Count: 2, Current: -1, Status: QuizReady, Questions: []QuizItem{
		{Text: "A?", Choices: []string{"x", "y"}, Answer: 1, TimeLimitS: 10, Counts: []int64{0, 0}},
		{Text: "B?", Choices: []string{"x", "y", "z"}, Answer: 2, TimeLimitS: 10, Counts: []int64{0, 0, 0}},
	}}
	noErr(t, s.CreateQuiz(ctx, "st", q))
	isErr(t, s.CreateQuiz(ctx, "st", q), ErrDuplicate)
	answer := func(user string, question, choice int, at time.Time) error {
		return s.AnswerQuiz(ctx, "st", "q1", QuizResponse{User: user, Name: "N" + user, Question: question, Choice: choice, At: at}, at)
	}
	isErr(t, answer("u1", 0, 1, t0), ErrClosed) // not asked yet
	sentinel := errors.New("stop")
	if _, err := s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error { q.Current = 5; return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("UpdateQuiz did not return fn's error: %v", err)
	}
	asked, err := s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error {
		q.Current, q.Status, q.OpensAt, q.Deadline = 0, QuizRunning, t0, t0.Add(10*time.Second)
		return nil
	})
	noErr(t, err)
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
			noErr(t, err)
		} else {
			isErr(t, err, a.want)
		}
	}
	got, err := s.Quiz(ctx, "st", "q1")
	noErr(t, err)
	if !slices.Equal(got.Questions[0].Counts, []int64{1, 2}) || got.Questions[0].Answer != 1 || got.Title != "T" {
		t.Fatalf("quiz = %+v", got)
	}
	list, err := s.QuizAnswers(ctx, "st", "q1", 0)
	noErr(t, err)
	var users []string
	for _, a := range list {
		users = append(users, a.User)
	}
	if !slices.Equal(users, []string{"u1", "u2", "u3"}) || list[0].Name != "Nu1" || !list[0].At.Equal(t0.Add(time.Second)) {
		t.Fatalf("answers = %+v", list)
	}
	_, err = s.UpdateQuiz(ctx, "st", "q1", func(q *Quiz) error { q.Revealed = true; return nil })
	noErr(t, err)
	isErr(t, answer("u6", 0, 1, t0.Add(5*time.Second)), ErrClosed) // revealed
	got, _ = s.Quiz(ctx, "st", "q1")
	if !slices.Equal(got.Questions[0].Counts, []int64{1, 2}) {
		t.Fatalf("UpdateQuiz changed counts: %v", got.Questions[0].Counts)
	}

	noErr(t, s.SaveQuizPlayers(ctx, "st", "q1", []QuizPlayer{{User: "u1", Name: "Nu1", Score: 95, Streak: 1, LastCorrect: 0}}))
	noErr(t, s.SaveQuizPlayers(ctx, "st", "q1", []QuizPlayer{{User: "u1", Name: "Nu1", Score: 180, Streak: 2, LastCorrect: 1}, {User: "u3", Score: 85, Streak: 1}}))
	players, err := s.QuizPlayers(ctx, "st", "q1")
	noErr(t, err)
	slices.SortFunc(players, func(a, b QuizPlayer) int { return int(b.Score - a.Score) })
	if len(players) != 2 || players[0] != (QuizPlayer{User: "u1", Name: "Nu1", Score: 180, Streak: 2, LastCorrect: 1}) {
		t.Fatalf("players = %+v", players)
	}
	noErr(t, s.CreateQuiz(ctx, "st", Quiz{ID: "q2", Count: 1, Current: -1, Status: QuizReady, Questions: q.Questions[:1]}))
	if a, err := s.ActiveQuiz(ctx, "st"); err != nil || a.ID != "q2" {
		t.Fatalf("active quiz = %+v, %v", a, err)
	}
	_, err = s.Quiz(ctx, "st", "missing")
	isErr(t, err, ErrNotFound)
}

// quizStoreSuite is QuizStore's part of the Store conformance suite (runStoreSuite).
var quizStoreSuite = []storeCase{
	{"AskAnswerReveal", testQuizStore},
}

func TestQuestionIDsAreCanonical(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{{"q0", true}, {"q12", true}, {"q00", false}, {"q+0", false}, {"q-1", false}, {"q 1", false}, {"0", false}} {
		if _, ok := parseQuestionID(tt.id); ok != tt.want {
			t.Errorf("parseQuestionID(%q) ok = %v, want %v", tt.id, ok, tt.want)
		}
	}
}
