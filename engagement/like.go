package engagement

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
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
	if _, err := s.participate(ctx, actor, stream, actLike); err != nil {
		return err
	}
	if count < 1 || count > MaxLikesPerFrame {
		return Invalid("count", "count must be 1..%d", MaxLikesPerFrame)
	}
	if _, err := s.store.AddLikes(ctx, stream, int64(count)); err != nil {
		return fmt.Errorf("add likes to %s: %w", stream, err)
	}
	if prev, ok := s.likeSums.add(stream, actor.User, count, s.now()); ok {
		s.emitLikes(ctx, stream, prev)
	}
	return nil
}

// likeSums sums each user's likes on a stream per second of the clock, so that a user tapping as fast as
// the frame limit allows costs downstream one like.sent event a second, not one a frame. A second's sum is
// published by the user's first like of a later second or by the stream's next tick (tickLikes), whichever
// comes first. Likes are never acknowledged, so the sums of a node that stops are not owed to anyone.
type likeSums struct {
	mu   sync.Mutex
	open map[string]map[string]likeSum // stream → user → the sum of the second in progress
}

// likeSum is one user's likes in one second (Unix seconds) of a stream.
type likeSum struct {
	user  string
	sec   int64
	count int
}

// add counts n likes of user at now; if the user's open sum was of an earlier second it is returned, closed.
func (l *likeSums) add(stream, user string, n int, now time.Time) (likeSum, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[string]map[string]likeSum{}
	}
	users := l.open[stream]
	if users == nil {
		users = map[string]likeSum{}
		l.open[stream] = users
	}
	sec := now.Unix()
	cur, had := users[user]
	if had && cur.sec == sec {
		cur.count += n
		users[user] = cur
		return likeSum{}, false
	}
	users[user] = likeSum{user: user, sec: sec, count: n}
	return cur, had
}

// closed takes the stream's sums of seconds before now's (all of them if all is set).
func (l *likeSums) closed(stream string, now time.Time, all bool) []likeSum {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []likeSum
	sec := now.Unix()
	for user, sum := range l.open[stream] {
		if all || sum.sec < sec {
			out = append(out, sum)
			delete(l.open[stream], user)
		}
	}
	if len(l.open[stream]) == 0 {
		delete(l.open, stream)
	}
	slices.SortFunc(out, func(a, b likeSum) int { return cmp.Or(cmp.Compare(a.sec, b.sec), cmp.Compare(a.user, b.user)) })
	return out
}

// emitLikes publishes one closed sum as like.sent, timed when it is published (so that a user's events keep
// their order in time).
func (s *Service) emitLikes(ctx context.Context, stream string, sum likeSum) {
	s.emit(ctx, EventLikeSent, stream, sum.user, map[string]any{"stream": stream, "count": sum.count})
}

// tickLikes publishes the stream's like sums of past seconds, in one batch.
func tickLikes(ctx context.Context, s *Service, stream string) (Outcome, error) {
	sums := s.likeSums.closed(stream, s.now(), false)
	if len(sums) == 0 {
		return Outcome{}, nil
	}
	return s.batched(ctx, func(ctx context.Context) (Outcome, error) {
		for _, sum := range sums {
			s.emitLikes(ctx, stream, sum)
		}
		return Outcome{}, nil
	})
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

// likeSampleGap: a sample within this of the one before it is not kept. Every join reads the rate too, so a
// join storm would otherwise keep thousands of samples a second (and each read would walk them); the rate is
// then measured from a sample up to this much older than the newest reading at least a window old (when reads
// are sparse that reading, and so the window, can be older than a second: as before).
const likeSampleGap = 10 * time.Millisecond

func newLikeMeter() *likeMeter { return &likeMeter{samples: map[string][]likeSample{}} }

func (m *likeMeter) observe(stream string, total int64, now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.samples[stream]
	if n := len(ss); n == 0 || now.Sub(ss[n-1].at) >= likeSampleGap {
		ss = append(ss, likeSample{now, total})
	}
	// keep the newest sample at least a window old, and everything after it (samples are in time order)
	young := sort.Search(len(ss), func(i int) bool { return now.Sub(ss[i].at) < likeWindow })
	if young > 1 {
		ss = ss[young-1:]
	}
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
	if sums := s.likeSums.closed(stream, s.now(), true); len(sums) > 0 {
		_, _ = s.batched(context.Background(), func(ctx context.Context) (Outcome, error) {
			for _, sum := range sums {
				s.emitLikes(ctx, stream, sum)
			}
			return Outcome{}, nil
		})
	}
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
