package engagement

import (
	"context"
	"time"
)

// Store holds the interaction state that must be shared by every node serving a stream. The memory
// implementation (NewMemoryStore) is the single-node default; RedisStore shares it between nodes.
//
// Every method is safe for concurrent use. Methods documented as atomic must stay atomic across nodes:
// two nodes calling them at once behave as if the calls ran one after the other. Backend failures are
// returned wrapped around ErrUnavailable so that callers can answer "unavailable" and change nothing.
type Store interface {
	StreamStore
	ChatStore
	LikeStore
	ScoreStore
	HostStore
	ExtrasStore
}

// StreamStore keeps the streams.
type StreamStore interface {
	// CreateStream stores st; ErrDuplicate if the id is taken. Atomic.
	CreateStream(ctx context.Context, st Stream) error
	// Stream returns the stream or ErrNotFound.
	Stream(ctx context.Context, id string) (Stream, error)
	// UpdateStream applies fn to the stored stream and stores the result. Atomic: fn may run more than once
	// and must not have side effects. It returns what was stored, or fn's error unchanged.
	UpdateStream(ctx context.Context, id string, fn func(*Stream) error) (Stream, error)
}

// ChatStore keeps recent comments and the moderation settings of each stream.
type ChatStore interface {
	// AddComment appends c to the stream's recent comments, keeping the newest keep.
	AddComment(ctx context.Context, stream string, c Comment, keep int) error
	// RecentComments returns up to n recent comments, oldest first.
	RecentComments(ctx context.Context, stream string, n int) ([]Comment, error)
	// RemoveComment deletes a recent comment and marks the id removed (so a late joiner never sees it);
	// it reports whether the comment was still in the recent list. Removing twice is not an error.
	RemoveComment(ctx context.Context, stream, id string) (bool, error)
	// Moderation returns the stream's moderation settings (zero value if none were set).
	Moderation(ctx context.Context, stream string) (Moderation, error)
	// UpdateModeration applies fn to the moderation settings and stores them. Atomic, as UpdateStream.
	UpdateModeration(ctx context.Context, stream string, fn func(*Moderation) error) (Moderation, error)
	// TakeSlot is the slow-mode gate: if user last took a slot in stream less than every ago it returns the
	// time left and false; otherwise it records now and returns true. Atomic.
	TakeSlot(ctx context.Context, stream, user string, every time.Duration, now time.Time) (bool, time.Duration, error)
}

// LikeStore counts likes per stream.
type LikeStore interface {
	// AddLikes adds n likes to the stream's total and returns the new total. Atomic.
	AddLikes(ctx context.Context, stream string, n int64) (int64, error)
	// Likes returns the stream's total.
	Likes(ctx context.Context, stream string) (int64, error)
}

// ScoreStore keeps what the scorer must remember per user and stream: how many interactions of a kind
// ("comment", "question", "upvote", "watch") scored and when the last one did.
type ScoreStore interface {
	// UpdateScoreState applies fn to the user's state for kind in stream and stores the result when fn
	// returns true. Atomic, as UpdateStream: fn may run more than once and must not have side effects.
	UpdateScoreState(ctx context.Context, stream, user, kind string, fn func(*LimitState) bool) (LimitState, error)
}
