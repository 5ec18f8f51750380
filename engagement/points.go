package engagement

import "context"

// Scored is one scorable interaction: the caller says what happened, the scorer decides the points.
type Scored struct {
	// Key makes the award idempotent: the same key never pays twice (e.g. "vote:<poll>:<user>").
	Key string
	// Source names the rule: "watch", "comment", "poll", "quiz", "feedback", "question", "purchase".
	Source string
	// Points are the base points the scorer computed (before tier multiplier and cap).
	Points int64
	// Reason is shown to the user in the points frame ("Voted in a poll").
	Reason string
}

// award pays a scored interaction to actor and returns the points frame for them (empty when nothing is paid).
// Failures are logged, not returned: points are a consequence of an accepted interaction, never a reason to
// reject it, and the idempotency key makes a later retry safe.
func (s *Service) award(ctx context.Context, actor Actor, stream string, sc Scored) Outcome {
	_ = ctx
	_ = actor
	_ = sc
	return Outcome{Stream: stream}
}
