package engagement

import "time"

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
	ProductStore
	SalesStore
	PrivacyStore
	DailyStore
}

// Lifetimes: what every Store keeps, and for how long, so that storage stays bounded by recent traffic
// however long the server runs. Redis expires keys (the key layout in redis.go gives each key's TTL); the
// memory store forgets the same state (memory.go says when it notices).
//
//   - A stream's record lives Retention after it was created, and while live after each change and each
//     join (RenewStream), so a running show never loses it and an abandoned one (never ended) goes Retention
//     after its last join; once ended it lives Retention after it ended, as long as its replay.
//   - The hot state of a stream (comments, moderation, likes, polls, quizzes, feedback, coupons, draws,
//     questions, the product shelf, the sales, the audience, score state but the replay marks) lives StreamTTL after its last write.
//   - The replay timeline lives Retention after its last write, and a viewer's replay marks (score state of a
//     kind starting with "replay-": the once-per-question answer, the paid replay answers) Retention after
//     they were written: at least as long as the timeline they were made on, so an answer cannot be given
//     again while the replay is there to give it on.
//   - Per user: the list of codes claimed of coupon drops lives StreamTTL after the last claim or the
//     redemption of one of them (each entry as long as its code's index record), the last stream joined
//     lives StreamTTL after the join, a day's notification decisions two
//     days after the day's last decision, user-wide score state (stream "") userStateTTL.
const (
	// DefaultStreamTTL is the default StreamTTL of RedisConfig and MemoryConfig.
	DefaultStreamTTL = 48 * time.Hour
	// DefaultRetention is the default Retention of RedisConfig and MemoryConfig: how long an ended stream
	// can be replayed.
	DefaultRetention = 30 * 24 * time.Hour
)

// lifetimes returns a config's StreamTTL and Retention with the defaults applied; Retention is never shorter
// than StreamTTL, so that nothing a replay needs goes before the hot state.
func lifetimes(streamTTL, retention time.Duration) (time.Duration, time.Duration) {
	if streamTTL <= 0 {
		streamTTL = DefaultStreamTTL
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	return streamTTL, max(retention, streamTTL)
}
