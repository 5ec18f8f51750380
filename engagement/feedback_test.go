package engagement

import (
	"context"
	"fmt"
	"testing"
)

func TestFeedback(t *testing.T) {
	f := newHostFixture(t, 0)
	ctx := context.Background()
	sends := []struct {
		user  string
		kind  string
		score int
		code  Code
		field string
	}{
		{"a", FeedbackRating, 5, "", ""},
		{"b", FeedbackRating, 4, "", ""},
		{"c", FeedbackRating, 2, "", ""},
		{"a", FeedbackRating, 1, CodeDuplicate, ""},
		{"a", FeedbackNPS, 10, "", ""}, // another kind is fine
		{"b", FeedbackNPS, 9, "", ""},
		{"c", FeedbackNPS, 7, "", ""},
		{"d", FeedbackNPS, 3, "", ""},
		{"e", FeedbackNPS, 0, "", ""},
		{"f", FeedbackRating, 0, CodeInvalid, "score"},
		{"f", FeedbackRating, 6, CodeInvalid, "score"},
		{"f", FeedbackNPS, 11, CodeInvalid, "score"},
		{"f", "stars", 3, CodeInvalid, "kind"},
	}
	var last Outcome
	for _, s := range sends {
		out, err := f.svc.SendFeedback(ctx, viewer(s.user), "s1", s.kind, s.score)
		wantHostCode(t, err, s.code)
		if s.field != "" && FieldOf(err) != s.field {
			t.Fatalf("field = %q, want %q", FieldOf(err), s.field)
		}
		if err == nil {
			if len(out.Broadcast) != 0 || len(framesOf(out.Hosts, "feedback.summary")) != 1 {
				t.Fatalf("feedback outcome = %+v, want a summary for hosts only", out)
			}
			last = out
		}
	}
	want := FeedbackSummary{
		Ratings: RatingSummary{Count: 3, Average: 3.67, Distribution: [5]int64{0, 1, 0, 1, 1}},
		NPS:     NPSSummary{Count: 5, Score: 0, Promoters: 2, Passives: 1, Detractors: 2},
	}
	if got := last.Hosts[0].Data.(FeedbackSummary); got != want {
		t.Fatalf("live summary = %+v, want %+v", got, want)
	}
	got, err := f.svc.FeedbackSummary(ctx, f.host1, "s1")
	if err != nil || got != want {
		t.Fatalf("FeedbackSummary = %+v, %v; want %+v", got, err, want)
	}
	if n := len(f.eventsOf(EventFeedbackGiven)); n != 8 {
		t.Fatalf("%d feedback.given events, want 8", n)
	}
}

func TestNPSScore(t *testing.T) {
	tests := []struct {
		nps  [11]int64
		want float64
	}{
		{[11]int64{}, 0},
		{[11]int64{10: 3}, 100},
		{[11]int64{6: 1}, -100},
		{[11]int64{9: 2, 8: 1}, 66.7},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.nps), func(t *testing.T) {
			if got := (FeedbackCounts{NPS: tt.nps}).Summary().NPS.Score; got != tt.want {
				t.Fatalf("score = %v, want %v", got, tt.want)
			}
		})
	}
}

func testFeedbackStore(t *testing.T, s Store) {
	ctx := context.Background()
	if c, err := s.Feedback(ctx, "st"); err != nil || c != (FeedbackCounts{}) {
		t.Fatalf("empty feedback = %+v, %v", c, err)
	}
	_, err := s.AddFeedback(ctx, "st", "u1", FeedbackRating, 4)
	noErr(t, err)
	_, err = s.AddFeedback(ctx, "st", "u1", FeedbackRating, 5)
	isErr(t, err, ErrDuplicate)
	c, err := s.AddFeedback(ctx, "st", "u1", FeedbackNPS, 0)
	noErr(t, err)
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
}

// feedbackStoreSuite is FeedbackStore's part of the Store conformance suite (runStoreSuite).
var feedbackStoreSuite = []storeCase{
	{"AddFeedback", testFeedbackStore},
}
