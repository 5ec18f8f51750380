package engagement

import (
	"context"
	"fmt"
	"sync"
)

// questionMemory is MemoryStore's QuestionStore: product questions, under a lock of its own. A stream's
// questions go StreamTTL after the last write to any of them.
type questionMemory struct {
	mu        sync.Mutex
	life      *memLife
	prune     memPrune
	questions map[string]map[string]*memQuestion // stream → id → question
	pinned    map[string]string                  // stream → pinned question id
}

var _ QuestionStore = (*questionMemory)(nil)

func newQuestionMemory(life *memLife) *questionMemory {
	return &questionMemory{
		life:      life,
		prune:     newMemPrune(),
		questions: map[string]map[string]*memQuestion{},
		pinned:    map[string]string{},
	}
}

// write records a write to stream's questions; a due prune drops the questions of idle streams.
func (m *questionMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropStreams(m.questions, gone)
	dropStreams(m.pinned, gone)
}

type memQuestion struct {
	q      Question
	voters map[string]bool
}

// questionView returns a copy of a stored question with its pinned flag.
func (m *questionMemory) questionView(stream string, mq *memQuestion) Question {
	q := mq.q
	q.Pinned = m.pinned[stream] == q.ID
	return q
}

// AddQuestion implements QuestionStore.
func (m *questionMemory) AddQuestion(_ context.Context, stream string, q Question, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	qs := m.questions[stream]
	if qs == nil {
		qs = map[string]*memQuestion{}
		m.questions[stream] = qs
	}
	if _, ok := qs[q.ID]; ok {
		return ErrDuplicate
	}
	if len(qs) >= max {
		return ErrFull
	}
	q.Votes, q.Pinned, q.Answered, q.Hidden = 0, false, false, false
	qs[q.ID] = &memQuestion{q: q, voters: map[string]bool{}}
	return nil
}

// Questions implements QuestionStore.
func (m *questionMemory) Questions(_ context.Context, stream string) ([]Question, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	qs := m.questions[stream]
	out := make([]Question, 0, len(qs))
	for _, mq := range qs {
		out = append(out, m.questionView(stream, mq))
	}
	return out, nil
}

// UpvoteQuestion implements QuestionStore.
func (m *questionMemory) UpvoteQuestion(_ context.Context, stream, id, user string) (Question, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mq, ok := m.questions[stream][id]
	if !ok || mq.q.Hidden {
		return Question{}, ErrNotFound
	}
	if mq.q.User == user {
		return Question{}, ErrOwnItem
	}
	if mq.voters[user] {
		return Question{}, ErrDuplicate
	}
	mq.voters[user] = true
	mq.q.Votes++
	return m.questionView(stream, mq), nil
}

// SetQuestionFlag implements QuestionStore.
func (m *questionMemory) SetQuestionFlag(_ context.Context, stream, id, flag string, on bool) (Question, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mq, ok := m.questions[stream][id]
	if !ok {
		return Question{}, false, ErrNotFound
	}
	changed := false
	switch flag {
	case FlagPinned:
		isPinned := m.pinned[stream] == id
		switch {
		case on && mq.q.Hidden:
			return Question{}, false, ErrHidden
		case on && !isPinned:
			m.pinned[stream], changed = id, true
		case !on && isPinned:
			delete(m.pinned, stream)
			changed = true
		}
	case FlagAnswered:
		changed = mq.q.Answered != on
		mq.q.Answered = on
	case FlagHidden:
		changed = mq.q.Hidden != on
		mq.q.Hidden = on
		if on && m.pinned[stream] == id {
			delete(m.pinned, stream)
		}
	default:
		return Question{}, false, fmt.Errorf("question flag %q: %w", flag, ErrInvalid)
	}
	return m.questionView(stream, mq), changed, nil
}
