package engagement

import (
	"context"
	"fmt"
	"sync"
)

// feedbackMemory is MemoryStore's FeedbackStore: feedback counts, under a lock of its own. A stream's
// feedback goes StreamTTL after the last given.
type feedbackMemory struct {
	mu       sync.Mutex
	life     *memLife
	prune    memPrune
	feedback map[string]*memFeedback // stream → counts
}

var _ FeedbackStore = (*feedbackMemory)(nil)

func newFeedbackMemory(life *memLife) *feedbackMemory {
	return &feedbackMemory{
		life:     life,
		prune:    newMemPrune(),
		feedback: map[string]*memFeedback{},
	}
}

type memFeedback struct {
	counts FeedbackCounts
	given  map[string]bool // kind + "\x00" + user
}

// AddFeedback implements FeedbackStore.
func (m *feedbackMemory) AddFeedback(_ context.Context, stream, user, kind string, score int) (FeedbackCounts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var max int
	switch kind {
	case FeedbackRating:
		max = len(FeedbackCounts{}.Ratings)
	case FeedbackNPS:
		max = len(FeedbackCounts{}.NPS) - 1
	default:
		return FeedbackCounts{}, fmt.Errorf("feedback kind %q: %w", kind, ErrInvalid)
	}
	if score < 0 || score > max || (kind == FeedbackRating && score < 1) {
		return FeedbackCounts{}, fmt.Errorf("feedback score %d: %w", score, ErrInvalid)
	}
	dropStreams(m.feedback, m.prune.write(stream, m.life.now(), m.life.ttl))
	f := m.feedback[stream]
	if f == nil {
		f = &memFeedback{given: map[string]bool{}}
		m.feedback[stream] = f
	}
	if f.given[kind+"\x00"+user] {
		return FeedbackCounts{}, ErrDuplicate
	}
	f.given[kind+"\x00"+user] = true
	if kind == FeedbackRating {
		f.counts.Ratings[score-1]++
	} else {
		f.counts.NPS[score]++
	}
	return f.counts, nil
}

// Feedback implements FeedbackStore.
func (m *feedbackMemory) Feedback(_ context.Context, stream string) (FeedbackCounts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.feedback[stream]; f != nil {
		return f.counts, nil
	}
	return FeedbackCounts{}, nil
}
