package engagement

import (
	"context"
	"time"
)

// HostStore keeps the state of what hosts run on a stream: polls, quizzes, feedback, coupon drops and lucky
// draws. The same promises as Store apply: every method is safe for concurrent use, methods documented as
// atomic stay atomic across nodes, and backend failures wrap ErrUnavailable. Rejections are *Error values
// that match the sentinels (ErrNotFound, ErrClosed, ErrDuplicate) with errors.Is.
type HostStore interface {
	PollStore
	QuizStore
	FeedbackStore
	CouponStore
	DrawStore
}

// PollStore keeps polls and their votes. A stream has at most one open poll.
type PollStore interface {
	// OpenPoll stores p (status open, counts zero) as the stream's current poll. If the current poll is still
	// open it changes nothing and returns ErrDuplicate. Atomic.
	OpenPoll(ctx context.Context, stream string, p Poll) error
	// Poll returns a poll with its counts, or ErrNotFound.
	Poll(ctx context.Context, stream, id string) (Poll, error)
	// CurrentPoll returns the poll opened last on the stream (open or closed), or ErrNotFound.
	CurrentPoll(ctx context.Context, stream string) (Poll, error)
	// VotePoll records user's vote for option and returns the poll with the new counts. Atomic: it returns
	// ErrNotFound for an unknown poll, ErrClosed if the poll is closed, now is before OpensAt or not before a
	// non-zero ClosesAt, ErrInvalid if option is out of range, and ErrDuplicate if user already voted; the
	// check and the count are one step, so concurrent votes never lose or double a count. A vote also marks
	// user as a voter of the stream (HasVoted).
	VotePoll(ctx context.Context, stream, id, user string, option int, now time.Time) (Poll, error)
	// ClosePoll marks the poll closed at now and returns it with its final counts; closed reports whether
	// this call closed it (false if it was already closed), so that exactly one caller announces it. Atomic.
	ClosePoll(ctx context.Context, stream, id string, now time.Time) (p Poll, closed bool, err error)
	// HasVoted reports whether user voted in any poll of the stream.
	HasVoted(ctx context.Context, stream, user string) (bool, error)
}

// QuizStore keeps quizzes, answers and the players' quiz scores. A stream's active quiz is the one created
// last.
type QuizStore interface {
	// CreateQuiz stores q and makes it the stream's active quiz; ErrDuplicate if the id is taken.
	CreateQuiz(ctx context.Context, stream string, q Quiz) error
	// Quiz returns a quiz with the answer counts of each question, or ErrNotFound.
	Quiz(ctx context.Context, stream, id string) (Quiz, error)
	// ActiveQuiz returns the stream's active quiz, or ErrNotFound.
	ActiveQuiz(ctx context.Context, stream string) (Quiz, error)
	// UpdateQuiz applies fn to the stored quiz and stores the result. Atomic as StreamStore.UpdateStream: fn
	// may run more than once, must have no side effects, and its error is returned unchanged. fn must not
	// change the questions' counts, which only AnswerQuiz does.
	UpdateQuiz(ctx context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error)
	// AnswerQuiz records a's answer to question a.Question of the quiz. Atomic: ErrNotFound for an unknown
	// quiz; ErrClosed unless that question is the current one, not revealed, and OpensAt <= now < Deadline;
	// ErrInvalid for a choice out of range; ErrDuplicate if the user already answered it. An accepted answer
	// adds one to the choice's count.
	AnswerQuiz(ctx context.Context, stream, quizID string, a QuizResponse, now time.Time) error
	// QuizAnswers returns the answers given to one question of a quiz, in the order they were accepted.
	QuizAnswers(ctx context.Context, stream, quizID string, question int) ([]QuizResponse, error)
	// QuizPlayers returns every player's running score in a quiz (any order).
	QuizPlayers(ctx context.Context, stream, quizID string) ([]QuizPlayer, error)
	// SaveQuizPlayers stores the given players' records, replacing earlier ones of the same users. Only the
	// one caller that revealed a question (UpdateQuiz setting Revealed) calls it, so it need not be atomic
	// with anything else.
	SaveQuizPlayers(ctx context.Context, stream, quizID string, players []QuizPlayer) error
}

// FeedbackStore keeps viewers' ratings and NPS scores.
type FeedbackStore interface {
	// AddFeedback records user's score of kind (FeedbackRating or FeedbackNPS) and returns the stream's
	// counts after it. Atomic: ErrDuplicate if the user already gave that kind on the stream.
	AddFeedback(ctx context.Context, stream, user, kind string, score int) (FeedbackCounts, error)
	// Feedback returns the stream's counts (zero if none).
	Feedback(ctx context.Context, stream string) (FeedbackCounts, error)
}

// CouponStore keeps coupon drops and claims.
type CouponStore interface {
	// CreateCoupon stores c (Remaining = Stock); ErrDuplicate if the id is taken.
	CreateCoupon(ctx context.Context, stream string, c Coupon) error
	// Coupon returns a coupon with its remaining stock, or ErrNotFound.
	Coupon(ctx context.Context, stream, id string) (Coupon, error)
	// Coupons returns the stream's coupons, oldest first.
	Coupons(ctx context.Context, stream string) ([]Coupon, error)
	// ClaimCoupon gives one unit of the coupon to user under code and returns the coupon after it. Atomic:
	// ErrNotFound for an unknown coupon; ErrDuplicate if user already claimed it; ErrClosed if now is before
	// OpensAt, not before ExpiresAt, or no stock remains. Stock never goes below zero and a code is stored
	// for each successful claim only.
	ClaimCoupon(ctx context.Context, stream, id, user, code string, now time.Time) (Coupon, error)
	// CouponCode returns the code user claimed of the coupon, or "" if they claimed none.
	CouponCode(ctx context.Context, stream, id, user string) (string, error)
}

// DrawStore keeps lucky draws, their entrants, and who commented on a stream (for draws limited to
// commenters).
type DrawStore interface {
	// CreateDraw stores d (with its secret seed) as the stream's current draw; ErrDuplicate if the id is taken.
	CreateDraw(ctx context.Context, stream string, d Draw) error
	// Draw returns a draw, seed included, or ErrNotFound.
	Draw(ctx context.Context, stream, id string) (Draw, error)
	// CurrentDraw returns the draw created last on the stream, or ErrNotFound.
	CurrentDraw(ctx context.Context, stream string) (Draw, error)
	// UpdateDraw applies fn to the stored draw and stores the result. Atomic as StreamStore.UpdateStream.
	UpdateDraw(ctx context.Context, stream, id string, fn func(*Draw) error) (Draw, error)
	// EnterDraw adds e to the draw's entrants. Atomic: ErrNotFound for an unknown draw; ErrClosed unless the
	// draw's status is open and now is not before OpensAt; ErrDuplicate if the user already entered.
	EnterDraw(ctx context.Context, stream, id string, e DrawEntrant, now time.Time) error
	// DrawEntrants returns the draw's entrants sorted by user id.
	DrawEntrants(ctx context.Context, stream, id string) ([]DrawEntrant, error)
	// MarkCommenter records that user commented on the stream.
	MarkCommenter(ctx context.Context, stream, user string) error
	// HasCommented reports whether MarkCommenter recorded user on the stream.
	HasCommented(ctx context.Context, stream, user string) (bool, error)
}

// host returns the HostStore side of the service's store.
func (s *Service) host() HostStore { return s.store }
