package engagement

import (
	"context"
	"errors"
	"fmt"
	"github.com/kudos-live/kudos/internal/testenv"
	"golang.org/x/time/rate"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRefinementsMatchTheirSentinel(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"refinement is its sentinel", ErrNotOpenYet, ErrClosed, true},
		{"sentinel is not a refinement", ErrClosed, ErrNotOpenYet, false},
		{"refinements differ", ErrTimeUp, ErrNotOpenYet, false},
		{"worded error is its sentinel", Errorf(CodeClosed, "poll is closed"), ErrClosed, true},
		{"worded error is no refinement", Errorf(CodeClosed, "poll is closed"), ErrNotOpenYet, false},
		{"wrapped refinement", fmt.Errorf("claim: %w", ErrSoldOut), ErrSoldOut, true},
		{"wrapped refinement is its sentinel", fmt.Errorf("claim: %w", ErrSoldOut), ErrClosed, true},
		{"other code", ErrStillOpen, ErrClosed, false},
		{"duplicate refinement", ErrStillOpen, ErrDuplicate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestBare(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"sentinel", ErrNotFound, true},
		{"wrapped refinement", fmt.Errorf("add question: %w", ErrFull), true},
		{"worded", Errorf(CodeNotFound, "no poll %q", "p1"), false},
		{"backend failure", unavailable("get poll", io.EOF), false},
		{"plain error", io.EOF, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bare(tt.err); got != tt.want {
				t.Errorf("bare(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRejectionsWordedOnceForEveryBackend plays the same rejections on a Service over memory and over Redis:
// the stores return sentinels and the Service words them, so a client sees the same code, message and field
// whichever store runs.
func TestRejectionsWordedOnceForEveryBackend(t *testing.T) {
	mem := rejectionsOn(t, NewMemoryStore())
	red := rejectionsOn(t, newTestRedisStore(t))
	if !slices.Equal(mem, red) {
		t.Errorf("memory and Redis word rejections differently:\nmemory:\n  %s\nredis:\n  %s", strings.Join(mem, "\n  "), strings.Join(red, "\n  "))
	}
	for _, line := range mem {
		if strings.Contains(line, "internal") || strings.HasSuffix(line, `"not_found"`) || strings.HasSuffix(line, `"closed"`) ||
			strings.HasSuffix(line, `"duplicate"`) || strings.HasSuffix(line, `"invalid"`) || strings.HasSuffix(line, `"forbidden"`) {
			t.Errorf("rejection not worded for the user: %s", line)
		}
	}
}

// rejectionsOn plays a show of refused interactions and returns each refusal as "what: code message field".
func rejectionsOn(t *testing.T, store Store) []string {
	t.Helper()
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
	svc := New(Config{Now: clk.Now, CommentRate: rate.Inf}, store, NewMemorySink())
	host := Actor{User: "host1", Name: "Host", Role: RoleHost}
	ann, bob, cat := viewer("ann"), viewer("bob"), viewer("cat")
	delay := int64(2000)
	if _, err := svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Show", VideoDelayMS: &delay}); err != nil {
		t.Fatal(err)
	}
	var got []string
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: accepted, want a rejection", what)
		}
		got = append(got, fmt.Sprintf("%s: %s %q %q", what, CodeOf(err), FieldOf(err), MessageOf(err)))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	outcome := func(_ Outcome, err error) error { return err }

	// Streams.
	_, err := svc.Stream(ctx, "nope")
	refused("unknown stream", err)

	// Polls.
	p, _, err := svc.OpenPoll(ctx, host, "s1", PollSpec{Question: "Red or blue?", Options: []string{"red", "blue"}, DurationS: 10})
	must(err)
	refused("vote before the poll reaches viewers", outcome(svc.Vote(ctx, ann, "s1", p.ID, 0)))
	clk.Advance(3 * time.Second)
	refused("vote for option 5 of 2", outcome(svc.Vote(ctx, ann, "s1", p.ID, 5)))
	must(outcome(svc.Vote(ctx, ann, "s1", p.ID, 0)))
	refused("vote twice", outcome(svc.Vote(ctx, ann, "s1", p.ID, 1)))
	refused("vote in an unknown poll", outcome(svc.Vote(ctx, ann, "s1", "nope", 0)))
	_, _, err = svc.OpenPoll(ctx, host, "s1", PollSpec{Question: "Again?", Options: []string{"yes", "no"}})
	refused("open a second poll", err)
	clk.Advance(10 * time.Second)
	refused("vote after the poll closed", outcome(svc.Vote(ctx, bob, "s1", p.ID, 0)))

	// Quizzes.
	q, err := svc.CreateQuiz(ctx, host, "s1", QuizSpec{Questions: []QuizItem{{Text: "2+2?", Choices: []string{"3", "4"}, Answer: 1, TimeLimitS: 5}}})
	must(err)
	_, _, err = svc.NextQuestion(ctx, host, "s1", q.ID)
	must(err)
	refused("answer before the question reaches viewers", outcome(svc.Answer(ctx, ann, "s1", q.ID, "q0", 1)))
	clk.Advance(3 * time.Second)
	must(outcome(svc.Answer(ctx, ann, "s1", q.ID, "q0", 1)))
	refused("answer twice", outcome(svc.Answer(ctx, ann, "s1", q.ID, "q0", 0)))
	refused("answer an unknown quiz", outcome(svc.Answer(ctx, ann, "s1", "nope", "q0", 0)))
	clk.Advance(5 * time.Second)
	refused("answer after the deadline", outcome(svc.Answer(ctx, bob, "s1", q.ID, "q0", 1)))

	// Coupons.
	c, _, err := svc.DropCoupon(ctx, host, "s1", CouponSpec{Title: "10% off", Stock: 1, ExpiresS: 10})
	must(err)
	refused("claim before the drop reaches viewers", outcome(svc.ClaimCoupon(ctx, ann, "s1", c.ID)))
	clk.Advance(3 * time.Second)
	must(outcome(svc.ClaimCoupon(ctx, ann, "s1", c.ID)))
	refused("claim when none is left", outcome(svc.ClaimCoupon(ctx, bob, "s1", c.ID)))
	refused("claim an unknown coupon", outcome(svc.ClaimCoupon(ctx, bob, "s1", "nope")))
	clk.Advance(10 * time.Second)
	refused("claim after the coupon expired", outcome(svc.ClaimCoupon(ctx, cat, "s1", c.ID)))

	// Draws.
	d, _, err := svc.OpenDraw(ctx, host, "s1", DrawSpec{Prize: "Mug", Winners: 1})
	must(err)
	refused("enter an unknown draw", outcome(svc.EnterDraw(ctx, ann, "s1", "nope")))
	clk.Advance(3 * time.Second)
	must(outcome(svc.EnterDraw(ctx, ann, "s1", d.ID)))
	refused("enter twice", outcome(svc.EnterDraw(ctx, ann, "s1", d.ID)))

	// Questions.
	qu, _, err := svc.AskQuestion(ctx, ann, "s1", "Does it come in blue?")
	must(err)
	refused("upvote one's own question", outcome(svc.UpvoteQuestion(ctx, ann, "s1", qu.ID)))
	must(outcome(svc.UpvoteQuestion(ctx, bob, "s1", qu.ID)))
	refused("upvote twice", outcome(svc.UpvoteQuestion(ctx, bob, "s1", qu.ID)))
	refused("upvote an unknown question", outcome(svc.UpvoteQuestion(ctx, bob, "s1", "nope")))
	_, _, err = svc.MarkQuestion(ctx, host, "s1", qu.ID, QuestionHide, true)
	must(err)
	_, _, err = svc.MarkQuestion(ctx, host, "s1", qu.ID, QuestionPin, true)
	refused("pin a hidden question", err)

	// Feedback.
	must(outcome(svc.SendFeedback(ctx, ann, "s1", FeedbackRating, 5)))
	refused("rate twice", outcome(svc.SendFeedback(ctx, ann, "s1", FeedbackRating, 4)))
	return got
}
