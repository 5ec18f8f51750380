package engagement

import (
	"context"
	"testing"
	"time"
)

// TestHostToolRoles checks that only the stream's own host (or an admin) runs host tools.
func TestHostToolRoles(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	poll, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	quiz, err := f.svc.CreateQuiz(ctx, f.host1, "s1", twoQuestionQuiz())
	if err != nil {
		t.Fatal(err)
	}
	draw, _, err := f.svc.OpenDraw(ctx, f.host1, "s1", DrawSpec{Prize: "Mug", Winners: 1})
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]func(Actor) error{
		"open poll": func(a Actor) error {
			_, _, err := f.svc.OpenPoll(ctx, a, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
			return err
		},
		"close poll": func(a Actor) error { _, _, err := f.svc.ClosePoll(ctx, a, "s1", poll.ID); return err },
		"create quiz": func(a Actor) error {
			_, err := f.svc.CreateQuiz(ctx, a, "s1", twoQuestionQuiz())
			return err
		},
		"next question": func(a Actor) error { _, _, err := f.svc.NextQuestion(ctx, a, "s1", quiz.ID); return err },
		"get quiz":      func(a Actor) error { _, err := f.svc.Quiz(ctx, a, "s1", quiz.ID); return err },
		"drop coupon": func(a Actor) error {
			_, _, err := f.svc.DropCoupon(ctx, a, "s1", CouponSpec{Title: "x", Stock: 1, ExpiresS: 60})
			return err
		},
		"open draw": func(a Actor) error {
			_, _, err := f.svc.OpenDraw(ctx, a, "s1", DrawSpec{Prize: "x", Winners: 1})
			return err
		},
		"run draw":         func(a Actor) error { _, _, err := f.svc.RunDraw(ctx, a, "s1", draw.ID); return err },
		"feedback summary": func(a Actor) error { _, err := f.svc.FeedbackSummary(ctx, a, "s1"); return err },
	}
	actors := []struct {
		name  string
		actor Actor
	}{
		{"viewer", viewer("v1")},
		{"service", Actor{User: "shop", Role: RoleService}},
		{"host of another stream", f.host2},
		{"host token for another stream", Actor{User: "host1", Role: RoleHost, Stream: "s2"}},
	}
	for tool, run := range tools {
		for _, a := range actors {
			t.Run(tool+"/"+a.name, func(t *testing.T) {
				wantHostCode(t, run(a.actor), CodeForbidden)
			})
		}
	}
	t.Run("admin may", func(t *testing.T) {
		wantHostCode(t, tools["feedback summary"](Actor{User: "root", Role: RoleAdmin}), "")
	})
}

// TestVideoDelay checks that items open to viewers after the stream's video delay and their clocks shift.
func TestVideoDelay(t *testing.T) {
	const delay = 3 * time.Second
	f := newHostFixture(t, delay.Milliseconds())
	ctx := context.Background()
	start := f.clock.Now()

	p, out, err := f.svc.OpenPoll(ctx, f.host2, "s2", PollSpec{Question: "Q", Options: []string{"a", "b"}, DurationS: 10})
	if err != nil {
		t.Fatal(err)
	}
	if out.Delay != delay || !p.OpensAt.Equal(start.Add(delay)) || !p.ClosesAt.Equal(start.Add(delay+10*time.Second)) {
		t.Fatalf("poll = %+v, delay %v", p, out.Delay)
	}
	c, out, err := f.svc.DropCoupon(ctx, f.host2, "s2", CouponSpec{Title: "x", Stock: 5, ExpiresS: 10})
	if err != nil || out.Delay != delay || !c.ExpiresAt.Equal(start.Add(delay+10*time.Second)) {
		t.Fatalf("coupon = %+v, %+v, %v", c, out, err)
	}
	d, out, err := f.svc.OpenDraw(ctx, f.host2, "s2", DrawSpec{Prize: "x", Winners: 1})
	if err != nil || out.Delay != delay {
		t.Fatalf("draw outcome = %+v, %v", out, err)
	}
	q, err := f.svc.CreateQuiz(ctx, f.host2, "s2", twoQuestionQuiz())
	if err != nil {
		t.Fatal(err)
	}
	step, out, err := f.svc.NextQuestion(ctx, f.host2, "s2", q.ID)
	if err != nil || out.Delay != delay || !step.Question.Deadline.Equal(start.Add(delay+20*time.Second)) {
		t.Fatalf("question = %+v, %+v, %v", step.Question, out, err)
	}

	// before the video catches up everything is "not open yet", and late joiners and snapshots see nothing
	early := []struct {
		name string
		err  error
	}{
		{"vote", answerErr(f.svc.Vote(ctx, viewer("a"), "s2", p.ID, 0))},
		{"claim", answerErr(f.svc.ClaimCoupon(ctx, viewer("a"), "s2", c.ID))},
		{"enter", answerErr(f.svc.EnterDraw(ctx, viewer("a"), "s2", d.ID))},
		{"answer", answerErr(f.svc.Answer(ctx, viewer("a"), "s2", q.ID, "q0", 1))},
	}
	for _, e := range early {
		t.Run("early "+e.name, func(t *testing.T) { wantHostCode(t, e.err, CodeClosed) })
	}
	w, err := f.svc.Join(ctx, viewer("b"), "s2")
	if err != nil || w.Poll != nil || w.Quiz != nil || w.Coupons != nil || w.Draw != nil {
		t.Fatalf("early welcome = %+v, %v", w, err)
	}
	if snap, _ := f.svc.Snapshot(ctx, "s2"); len(framesOf(snap, "poll.tally"))+len(framesOf(snap, "coupon.stock")) != 0 {
		t.Fatalf("early snapshot = %+v", snap)
	}

	f.clock.Advance(delay)
	late := []struct {
		name string
		err  error
	}{
		{"vote", answerErr(f.svc.Vote(ctx, viewer("a"), "s2", p.ID, 0))},
		{"claim", answerErr(f.svc.ClaimCoupon(ctx, viewer("a"), "s2", c.ID))},
		{"enter", answerErr(f.svc.EnterDraw(ctx, viewer("a"), "s2", d.ID))},
		{"answer", answerErr(f.svc.Answer(ctx, viewer("a"), "s2", q.ID, "q0", 1))},
	}
	for _, e := range late {
		t.Run("open "+e.name, func(t *testing.T) { wantHostCode(t, e.err, "") })
	}
	w, err = f.svc.Join(ctx, viewer("c"), "s2")
	if err != nil || w.Poll == nil || w.Quiz == nil || w.Coupons == nil || w.Draw == nil {
		t.Fatalf("welcome = %+v, %v", w, err)
	}
	// the answer came the moment the question reached viewers: full speed points
	f.clock.Advance(20 * time.Second)
	out, err = f.svc.Tick(ctx, "s2")
	if err != nil {
		t.Fatal(err)
	}
	lb := framesOf(out.Broadcast, "quiz.leaderboard")
	if len(lb) != 1 || lb[0].Data.(QuizLeaderboard).Top[0].Score != 100 {
		t.Fatalf("leaderboard = %+v", lb)
	}
	if len(framesOf(out.Broadcast, "poll.closed")) != 1 {
		t.Fatalf("poll not closed at opens+duration: %+v", out)
	}
}

// TestEndedStream checks that nothing but feedback runs on an ended stream.
func TestEndedStream(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	p, _, err := f.svc.OpenPoll(ctx, f.host1, "s1", PollSpec{Question: "Q", Options: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.EndStream(ctx, f.host1, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Vote(ctx, viewer("a"), "s1", p.ID, 0)
	wantHostCode(t, err, CodeClosed)
	_, _, err = f.svc.DropCoupon(ctx, f.host1, "s1", CouponSpec{Title: "x", Stock: 1, ExpiresS: 60})
	wantHostCode(t, err, CodeClosed)
	_, err = f.svc.SendFeedback(ctx, viewer("a"), "s1", FeedbackRating, 5)
	wantHostCode(t, err, "") // feedback is asked for when the show ends
}
