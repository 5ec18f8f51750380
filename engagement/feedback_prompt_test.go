package engagement

import (
	"context"
	"testing"
	"time"
)

// A host asks viewers for feedback live: the prompt goes to every viewer after the video delay, with the
// question and scale of its kind; only the stream's host may ask (asked first, before the kind is judged),
// and only while it is live.
func TestPromptFeedback(t *testing.T) {
	f := newHostFixture(t, 2000) // s2 has a 2 s video delay
	ctx := context.Background()

	p, out, err := f.svc.PromptFeedback(ctx, f.host1, "s1", FeedbackNPS)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != FeedbackNPS || p.Min != 0 || p.Max != 10 || p.Question == "" || p.Stream != "s1" || p.At.IsZero() {
		t.Fatalf("prompt %+v", p)
	}
	frames := framesOf(out.Broadcast, "feedback.prompt")
	if len(frames) != 1 || frames[0].Data.(FeedbackPrompt) != p || out.Stream != "s1" || out.Delay != 0 {
		t.Fatalf("outcome %+v, want feedback.prompt to every viewer of s1, now", out)
	}
	p, out, err = f.svc.PromptFeedback(ctx, f.host2, "s2", FeedbackRating)
	if err != nil || p.Min != 1 || p.Max != 5 || out.Delay != 2*time.Second {
		t.Fatalf("rating prompt on s2: %+v %+v %v, want 1..5 after the 2 s video delay", p, out, err)
	}

	refusals := []struct {
		who    Actor
		stream string
		kind   string
		code   Code
		field  string
	}{
		{viewer("v"), "s1", FeedbackRating, CodeForbidden, ""},
		{f.host2, "s1", FeedbackRating, CodeForbidden, ""}, // not the host of s1
		{viewer("v"), "s1", "stars", CodeForbidden, ""},    // who is asked before what
		{f.host1, "s1", "stars", CodeInvalid, "kind"},
		{f.host1, "s1", "", CodeInvalid, "kind"},
		{f.host1, "nope", FeedbackRating, CodeNotFound, ""},
	}
	for _, r := range refusals {
		_, out, err := f.svc.PromptFeedback(ctx, r.who, r.stream, r.kind)
		wantHostCode(t, err, r.code)
		if FieldOf(err) != r.field || len(out.Broadcast) != 0 {
			t.Fatalf("%+v: field %q, outcome %+v", r, FieldOf(err), out)
		}
	}

	if _, _, err := f.svc.EndStream(ctx, f.host1, "s1"); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.PromptFeedback(ctx, f.host1, "s1", FeedbackRating)
	wantHostCode(t, err, CodeClosed)
}
