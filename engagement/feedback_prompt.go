package engagement

import (
	"context"
	"time"
)

// FeedbackPrompt is the feedback.prompt frame: the question a host asks every viewer of a live stream
// (POST /api/v1/streams/:id/feedback/prompt); viewers answer it with feedback.send of the same kind.
type FeedbackPrompt struct {
	Stream   string    `json:"stream"`
	Kind     string    `json:"kind"`     // FeedbackRating or FeedbackNPS
	Question string    `json:"question"` // the question the page shows
	Min      int       `json:"min"`      // the scale: 1..5 for a rating, 0..10 for NPS
	Max      int       `json:"max"`
	At       time.Time `json:"at"`
}

// feedbackQuestions are the questions of each kind, as the page words them.
var feedbackQuestions = map[string]FeedbackPrompt{
	FeedbackRating: {Kind: FeedbackRating, Question: "How would you rate this show?", Min: 1, Max: 5},
	FeedbackNPS:    {Kind: FeedbackNPS, Question: "How likely are you to recommend this live to a friend?", Min: 0, Max: 10},
}

// PromptFeedback asks every viewer of stream, live, for a rating or an NPS score: the host of the stream
// (or an admin), while it is live. Viewers receive feedback.prompt after the stream's video delay, with the
// show's moment the host asked about.
func (s *Service) PromptFeedback(ctx context.Context, actor Actor, stream, kind string) (FeedbackPrompt, Outcome, error) {
	return runAct(ctx, s, func(ctx context.Context) (FeedbackPrompt, Outcome, error) {
		st, err := s.runStream(ctx, actor, stream) // who first, then what
		if err != nil {
			return FeedbackPrompt{}, Outcome{}, err
		}
		p, ok := feedbackQuestions[kind]
		if !ok {
			return FeedbackPrompt{}, Outcome{}, Invalid("kind", "kind must be %q or %q", FeedbackRating, FeedbackNPS)
		}
		p.Stream, p.At = stream, s.now().UTC()
		return p, Outcome{Stream: stream, Broadcast: []Frame{{Type: "feedback.prompt", Data: p}}, Delay: st.videoDelay()}, nil
	})
}
