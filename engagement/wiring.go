package engagement

import "context"

// The room's wiring, in one place: which client frames are actions, and which steps run when a viewer joins,
// on every tick of a stream's hub, and for every snapshot, in the order listed. A new concept adds its
// action and its steps here.

// actionTypes maps a client frame type to a constructor of its zero Action, for decoding (see NewAction), and
// to the kind of participation the policy (policy.go) decides on before the action runs (Service.Handle).
var actionTypes = map[string]actionType{
	"comment.send":    {func() Action { return &CommentSend{} }, actComment},
	"like.send":       {func() Action { return &LikeSend{} }, actLike},
	"poll.vote":       {func() Action { return &PollVote{} }, actVote},
	"quiz.answer":     {func() Action { return &QuizAnswer{} }, actQuizAnswer},
	"feedback.send":   {func() Action { return &FeedbackSend{} }, actFeedback},
	"coupon.claim":    {func() Action { return &CouponClaim{} }, actClaim},
	"draw.enter":      {func() Action { return &DrawEnter{} }, actEnter},
	"question.ask":    {func() Action { return &QuestionAsk{} }, actAsk},
	"question.upvote": {func() Action { return &QuestionUpvote{} }, actUpvote},
	"product.click":   {func() Action { return &ProductClick{} }, actClick},
}

// actionType is one client action of actionTypes.
type actionType struct {
	new func() Action
	act act
}

// A roomStep fills its own fields of the stream-wide part of a Welcome, the same for everyone joining at that
// moment; it returns an error only for a backend failure, which refuses the joins.
type roomStep func(ctx context.Context, s *Service, st Stream, w *Welcome) error

// A joinStep fills its own fields of a viewer's Welcome (or records the join); it returns an error only for a
// backend failure, which refuses the join.
type joinStep func(ctx context.Context, s *Service, actor Actor, st Stream, w *Welcome) error

// A tickStep runs what time drives for one concept on a stream and returns what it produced.
type tickStep func(ctx context.Context, s *Service, stream string) (Outcome, error)

// A snapshotStep returns the coalesced frames of one concept's current state on a stream.
type snapshotStep func(ctx context.Context, s *Service, stream string) ([]Frame, error)

// roomSteps renew the live stream's record and fill the stream-wide part of the Welcome after the stream,
// recent comments, likes and slow mode; joins that arrive together share one run of them (Service.Join,
// readRoom).
var roomSteps = []roomStep{
	roomRenew,
	roomCoupons,
	roomDraw,
	roomPoll,
	roomProduct,
	roomQuestions,
	roomQuiz,
}

// joinSteps then fill each viewer's own part of their Welcome and record the join (Service.Join).
var joinSteps = []joinStep{
	joinCoupons,
	joinAudience,
	joinPoints,
}

// tickSteps run a few times a second per stream (Service.Tick); a transition happens on one node only.
var tickSteps = []tickStep{
	tickLikes,
	tickPoll,
	tickQuiz,
	tickTimeline,
}

// snapshotSteps follow the likes frame in every snapshot (Service.Snapshot).
var snapshotSteps = []snapshotStep{
	snapshotCoupons,
	snapshotPoll,
	snapshotQuestions,
}
