package engagement

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MaxLikesPerFrame bounds like.send's count: clients coalesce taps, this caps what one frame may claim.
const MaxLikesPerFrame = 50

// LikeSend is the like.send client action: add coalesced likes.
type LikeSend struct {
	Count int `json:"count"`
}

// FrameType implements Action.
func (LikeSend) FrameType() string { return "like.send" }

func (a *LikeSend) handle(ctx context.Context, s *Service, actor Actor, stream string) (Outcome, error) {
	return Outcome{}, s.Like(ctx, actor, stream, a.Count)
}

// LikeStats is the stream-wide like total and its rate over the last second or so.
type LikeStats struct {
	Total     int64   `json:"total"`
	PerSecond float64 `json:"per_second"`
}

// Like adds count likes from actor. Likes earn no points (they would be farmable).
func (s *Service) Like(ctx context.Context, actor Actor, stream string, count int) error {
	if count < 1 || count > MaxLikesPerFrame {
		return Invalid("count", "count must be 1..%d", MaxLikesPerFrame)
	}
	if _, err := s.liveStream(ctx, stream); err != nil {
		return err
	}
	if _, err := s.store.AddLikes(ctx, stream, int64(count)); err != nil {
		return fmt.Errorf("add likes to %s: %w", stream, err)
	}
	s.emit(ctx, EventLikeSent, stream, actor.User, map[string]any{"stream": stream, "count": count})
	return nil
}

// Likes returns the stream-wide like total and rate. Callers sample it a few times a second (the hub does);
// the rate is measured between those samples, so it is the same on every node.
func (s *Service) Likes(ctx context.Context, stream string) (LikeStats, error) {
	total, err := s.store.Likes(ctx, stream)
	if err != nil {
		return LikeStats{}, fmt.Errorf("read likes of %s: %w", stream, err)
	}
	return LikeStats{Total: total, PerSecond: s.likes.observe(stream, total, s.now())}, nil
}

// likeMeter turns samples of a growing total into a rate over a window of about a second.
type likeMeter struct {
	mu      sync.Mutex
	samples map[string][]likeSample
}

type likeSample struct {
	at    time.Time
	total int64
}

const likeWindow = time.Second

func newLikeMeter() *likeMeter { return &likeMeter{samples: map[string][]likeSample{}} }

func (m *likeMeter) observe(stream string, total int64, now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := append(m.samples[stream], likeSample{now, total})
	// keep the newest sample at least a window old, and everything after it
	cut := 0
	for i := len(ss) - 1; i >= 0; i-- {
		if now.Sub(ss[i].at) >= likeWindow {
			cut = i
			break
		}
	}
	ss = ss[cut:]
	m.samples[stream] = ss
	oldest := ss[0]
	dt := now.Sub(oldest.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(total-oldest.total) / dt
}

// forget drops a stream's samples (its hub stopped).
func (m *likeMeter) forget(stream string) {
	m.mu.Lock()
	delete(m.samples, stream)
	m.mu.Unlock()
}

// ForgetStream releases per-stream memory this node keeps for stream (its hub has stopped).
func (s *Service) ForgetStream(stream string) {
	s.likes.forget(stream)
	s.limMu.Lock()
	prefix := stream + "\x00"
	for k := range s.limiters {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			delete(s.limiters, k)
		}
	}
	s.limMu.Unlock()
}

// LikeStore counts likes per stream.
type LikeStore interface {
	// AddLikes adds n likes to the stream's total and returns the new total. Atomic.
	AddLikes(ctx context.Context, stream string, n int64) (int64, error)
	// Likes returns the stream's total.
	Likes(ctx context.Context, stream string) (int64, error)
}
