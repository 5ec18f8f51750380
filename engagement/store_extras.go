package engagement

import (
	"context"
	"encoding/json"
	"time"
)

// ExtrasStore keeps the state of the live-commerce extras: product questions, the replay timeline, who
// joined a stream, and the daily notification counts. The promises of Store apply: every method is safe for
// concurrent use, methods documented as atomic stay atomic across nodes, backend failures wrap
// ErrUnavailable, and rejections are *Error values that match the sentinels with errors.Is.
type ExtrasStore interface {
	QuestionStore
	TimelineStore
	NotificationStore
}

// Question flags that hosts set with SetQuestionFlag.
const (
	FlagPinned   = "pinned"
	FlagAnswered = "answered"
	FlagHidden   = "hidden"
)

// QuestionStore keeps product questions and their upvotes.
type QuestionStore interface {
	// AddQuestion stores q (Votes 0, no flags) on the stream. Atomic: ErrDuplicate if the id is taken,
	// ErrClosed if the stream already holds max questions (hidden ones included).
	AddQuestion(ctx context.Context, stream string, q Question, max int) error
	// Questions returns every question of the stream, hidden ones included, in any order, with Votes and the
	// flags as stored.
	Questions(ctx context.Context, stream string) ([]Question, error)
	// UpvoteQuestion adds user's vote to a question and returns it with the new count. Atomic: ErrNotFound
	// for an unknown or hidden question, ErrForbidden if user asked it, ErrDuplicate if user already voted
	// for it; the check and the count are one step, so concurrent votes never lose or double a count.
	UpvoteQuestion(ctx context.Context, stream, id, user string) (Question, error)
	// SetQuestionFlag sets (on) or clears a flag (FlagPinned, FlagAnswered, FlagHidden) of a question and
	// returns it; changed reports whether the flag changed, so that exactly one caller announces it. Atomic,
	// and a stream has at most one pinned question: pinning one unpins the other, hiding a question unpins
	// it, and pinning a hidden question is ErrInvalid. ErrNotFound for an unknown question.
	SetQuestionFlag(ctx context.Context, stream, id, flag string, on bool) (q Question, changed bool, err error)
}

// TimelineItem is one thing that appeared on viewers' screens, at OffsetMS from the stream's start.
type TimelineItem struct {
	OffsetMS int64           `json:"offset_ms"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	// Key identifies the item for de-duplication and removal ("comment:<id>", "likes:<second>").
	Key string `json:"-"`
	// Seq orders items of equal offset; the store assigns it.
	Seq int64 `json:"-"`
}

// TimelineStore keeps each stream's replay timeline, ordered by (OffsetMS, Seq).
type TimelineStore interface {
	// AppendTimeline adds item to the stream's timeline with the next Seq of the stream and reports whether
	// it did. Atomic: an item whose Key was appended before, or a timeline already holding max items, changes
	// nothing and returns false — so several nodes recording the same sample keep one. The store may keep
	// item.Data: the caller must not change it afterwards.
	AppendTimeline(ctx context.Context, stream string, item TimelineItem, max int) (bool, error)
	// HideTimeline marks key as removed: TimelineItems never returns an item with that key, including one
	// appended later.
	HideTimeline(ctx context.Context, stream, key string) error
	// TimelineItems returns up to limit items with from <= OffsetMS < to that come strictly after the position
	// (afterOffset, afterSeq) in (OffsetMS, Seq) order, hidden items left out. Pass afterOffset math.MinInt64
	// and afterSeq -1 to start at from.
	TimelineItems(ctx context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error)
}

// Notification decisions.
const (
	NotificationSent   = "sent"
	NotificationCapped = "capped"
)

// NotificationStore keeps who joined which stream (the audience of a stream's notifications) and how many
// notifications each user received per day.
type NotificationStore interface {
	// AddParticipant records that user joined stream; it also becomes the user's last stream.
	AddParticipant(ctx context.Context, stream, user string, at time.Time) error
	// Participants returns up to max users who joined the stream, in any order.
	Participants(ctx context.Context, stream string, max int) ([]string, error)
	// LastStream returns the stream user joined last, or ErrNotFound.
	LastStream(ctx context.Context, user string) (string, error)
	// DecideNotification decides notification id for user on day (a date, "2006-01-02"). Atomic per user and
	// day: if the (id, user) pair was decided before it returns that decision with replayed true and changes
	// nothing; otherwise, when fewer than limit notifications were sent to user on day, it counts one more and
	// returns NotificationSent, else NotificationCapped (counting nothing). Both decisions are remembered at
	// least until the day after day has ended (Redis may expire them then).
	DecideNotification(ctx context.Context, id, user, day string, limit int) (decision string, replayed bool, err error)
	// NotificationsSent returns how many notifications were sent to user on day.
	NotificationsSent(ctx context.Context, user, day string) (int, error)
}

// extrasStore returns the ExtrasStore side of the service's store.
func (s *Service) extrasStore() ExtrasStore { return s.store }
