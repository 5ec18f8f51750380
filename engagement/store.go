package engagement

// Store holds the interaction state that must be shared by every node serving a stream: the composition of
// one small store per concept, each declared beside its concept (StreamStore in stream.go, PollStore in
// poll.go, …). The memory implementation (NewMemoryStore) is the single-node default; RedisStore shares the
// state between nodes. Both pass the one conformance suite (runStoreSuite in store_test.go).
//
// The promises every small store makes:
//   - Every method is safe for concurrent use.
//   - Methods documented as atomic stay atomic across nodes: two nodes calling them at once behave as if
//     the calls ran one after the other.
//   - Rejections are the package's sentinel errors (ErrNotFound, ErrDuplicate, ErrClosed, ErrInvalid,
//     ErrForbidden, or a refinement of one such as ErrNotOpenYet), matched with errors.Is. Stores never
//     word a message for a user: the Service does, once, for both backends.
//   - Backend failures are returned wrapped around ErrUnavailable, so that callers can answer
//     "unavailable" and change nothing.
type Store interface {
	StreamStore
	ChatStore
	LikeStore
	ScoreStore
	PollStore
	QuizStore
	FeedbackStore
	CouponStore
	DrawStore
	QuestionStore
	TimelineStore
	NotificationStore
}
