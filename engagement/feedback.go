package engagement

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Feedback kinds and their scales.
const (
	FeedbackRating = "rating" // 1..5 stars
	FeedbackNPS    = "nps"    // 0..10, "how likely are you to recommend…"
)

// FeedbackCounts are a stream's feedback scores counted per value: Ratings[i] counts rating i+1, NPS[i]
// counts score i.
type FeedbackCounts struct {
	Ratings [5]int64  `json:"ratings"`
	NPS     [11]int64 `json:"nps"`
}

// RatingSummary summarises star ratings.
type RatingSummary struct {
	Count   int64   `json:"count"`
	Average float64 `json:"average"`
	// Distribution counts ratings 1..5.
	Distribution [5]int64 `json:"distribution"`
}

// NPSSummary is the Net Promoter Score: the percentage of promoters (9–10) minus that of detractors (0–6),
// from -100 to 100.
type NPSSummary struct {
	Count      int64   `json:"count"`
	Score      float64 `json:"score"`
	Promoters  int64   `json:"promoters"`
	Passives   int64   `json:"passives"`
	Detractors int64   `json:"detractors"`
}

// FeedbackSummary is the feedback.summary frame hosts receive.
type FeedbackSummary struct {
	Ratings RatingSummary `json:"ratings"`
	NPS     NPSSummary    `json:"nps"`
}

// Summary computes the averages and the NPS of c (rounded to two decimals and one decimal).
func (c FeedbackCounts) Summary() FeedbackSummary {
	var sum FeedbackSummary
	var stars int64
	for i, n := range c.Ratings {
		sum.Ratings.Count += n
		stars += int64(i+1) * n
	}
	sum.Ratings.Distribution = c.Ratings
	if sum.Ratings.Count > 0 {
		sum.Ratings.Average = math.Round(float64(stars)/float64(sum.Ratings.Count)*100) / 100
	}
	for score, n := range c.NPS {
		sum.NPS.Count += n
		switch {
		case score >= 9:
			sum.NPS.Promoters += n
		case score >= 7:
			sum.NPS.Passives += n
		default:
			sum.NPS.Detractors += n
		}
	}
	if sum.NPS.Count > 0 {
		pct := float64(sum.NPS.Promoters-sum.NPS.Detractors) / float64(sum.NPS.Count) * 100
		sum.NPS.Score = math.Round(pct*10) / 10
	}
	return sum
}

// FeedbackSend is the feedback.send client action.
type FeedbackSend struct {
	Kind  string `json:"kind"`
	Score int    `json:"score"`
}

// FrameType implements Action.
func (FeedbackSend) FrameType() string { return "feedback.send" }

func (a *FeedbackSend) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return s.SendFeedback(ctx, actor, stream, a.Kind, a.Score)
}

// SendFeedback records actor's rating (1..5) or NPS score (0..10): once per kind per stream. The stream's
// hosts receive the new summary. Feedback is also taken after the stream ended: that is when it is asked for.
func (s *Service) SendFeedback(ctx context.Context, actor Actor, stream, kind string, score int) (Outcome, error) {
	if _, err := s.participate(ctx, actor, stream, actFeedback); err != nil {
		return Outcome{}, err
	}
	switch kind {
	case FeedbackRating:
		if score < 1 || score > 5 {
			return Outcome{}, Invalid("score", "a rating is 1..5")
		}
	case FeedbackNPS:
		if score < 0 || score > 10 {
			return Outcome{}, Invalid("score", "an NPS score is 0..10")
		}
	default:
		return Outcome{}, Invalid("kind", "kind must be %q or %q", FeedbackRating, FeedbackNPS)
	}
	counts, err := s.store.AddFeedback(ctx, stream, actor.User, kind, score)
	if err != nil {
		if bare(err) && errors.Is(err, ErrDuplicate) {
			err = Errorf(CodeDuplicate, "you already gave this feedback")
		}
		return Outcome{}, fmt.Errorf("add %s feedback to %s: %w", kind, stream, err)
	}
	s.emit(ctx, EventFeedbackGiven, stream, actor.User, map[string]any{"stream": stream, "kind": kind, "score": score})
	out := Outcome{Stream: stream, Hosts: []Frame{{Type: "feedback.summary", Data: counts.Summary()}}}
	// Points are paid once per stream whatever the kinds given (the award key is the same for both), and
	// only to someone who watched it: feedback on streams never seen would be free points.
	if s.hasWatched(ctx, stream, actor.User) {
		out.Merge(s.award(ctx, actor, stream, Scored{
			Key: "feedback:" + stream + ":" + actor.User, Source: SourceFeedback, Points: s.scorerFor(actor.User).Feedback(false, false), Reason: "Gave feedback",
		}))
	}
	return out, nil
}

// FeedbackSummary returns a stream's feedback summary to its host.
func (s *Service) FeedbackSummary(ctx context.Context, actor Actor, stream string) (FeedbackSummary, error) {
	if _, err := s.hostStream(ctx, actor, stream); err != nil {
		return FeedbackSummary{}, err
	}
	counts, err := s.store.Feedback(ctx, stream)
	if err != nil {
		return FeedbackSummary{}, fmt.Errorf("feedback of %s: %w", stream, err)
	}
	return counts.Summary(), nil
}

// FeedbackStore keeps viewers' ratings and NPS scores.
type FeedbackStore interface {
	// AddFeedback records user's score of kind (FeedbackRating or FeedbackNPS) and returns the stream's
	// counts after it. Atomic: ErrDuplicate if the user already gave that kind on the stream.
	AddFeedback(ctx context.Context, stream, user, kind string, score int) (FeedbackCounts, error)
	// Feedback returns the stream's counts (zero if none).
	Feedback(ctx context.Context, stream string) (FeedbackCounts, error)
}
