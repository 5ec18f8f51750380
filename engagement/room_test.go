package engagement

import (
	"context"
	"testing"
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
