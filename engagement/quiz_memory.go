package engagement

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// quizMemory is MemoryStore's QuizStore: quizzes, answers and players, under a lock of its own. A stream's
// quizzes go StreamTTL after the last write to any of them.
type quizMemory struct {
	mu         sync.Mutex
	life       *memLife
	prune      memPrune
	quizzes    map[string]*memQuiz // memKey(stream, id)
	activeQuiz map[string]string   // stream → quiz id
}

var _ QuizStore = (*quizMemory)(nil)

func newQuizMemory(life *memLife) *quizMemory {
	return &quizMemory{
		life:       life,
		prune:      newMemPrune(),
		quizzes:    map[string]*memQuiz{},
		activeQuiz: map[string]string{},
	}
}

// write records a write to stream's quizzes; a due prune drops the quizzes of idle streams.
func (m *quizMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.quizzes, gone)
	dropStreams(m.activeQuiz, gone)
}

type memQuiz struct {
	q        Quiz
	answers  [][]QuizResponse // per question, in order of acceptance
	answered []map[string]bool
	players  map[string]QuizPlayer
}

func cloneQuiz(q Quiz) Quiz {
	q.Questions = slices.Clone(q.Questions)
	for i := range q.Questions {
		q.Questions[i].Choices = slices.Clone(q.Questions[i].Choices)
		q.Questions[i].Counts = slices.Clone(q.Questions[i].Counts)
	}
	return q
}

// CreateQuiz implements QuizStore.
func (m *quizMemory) CreateQuiz(_ context.Context, stream string, q Quiz) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	k := memKey(stream, q.ID)
	if _, ok := m.quizzes[k]; ok {
		return ErrDuplicate
	}
	q = cloneQuiz(q)
	mq := &memQuiz{q: q, answers: make([][]QuizResponse, len(q.Questions)), answered: make([]map[string]bool, len(q.Questions)), players: map[string]QuizPlayer{}}
	for i := range q.Questions {
		q.Questions[i].Counts = make([]int64, len(q.Questions[i].Choices))
		mq.answered[i] = map[string]bool{}
	}
	m.quizzes[k] = mq
	m.activeQuiz[stream] = q.ID
	return nil
}

// Quiz implements QuizStore.
func (m *quizMemory) Quiz(_ context.Context, stream, id string) (Quiz, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mq, ok := m.quizzes[memKey(stream, id)]
	if !ok {
		return Quiz{}, ErrNotFound
	}
	return cloneQuiz(mq.q), nil
}

// ActiveQuiz implements QuizStore.
func (m *quizMemory) ActiveQuiz(_ context.Context, stream string) (Quiz, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mq, ok := m.quizzes[memKey(stream, m.activeQuiz[stream])]
	if !ok {
		return Quiz{}, ErrNotFound
	}
	return cloneQuiz(mq.q), nil
}

// UpdateQuiz implements QuizStore.
func (m *quizMemory) UpdateQuiz(_ context.Context, stream, id string, fn func(*Quiz) error) (Quiz, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mq, ok := m.quizzes[memKey(stream, id)]
	if !ok {
		return Quiz{}, ErrNotFound
	}
	q := cloneQuiz(mq.q)
	if err := fn(&q); err != nil {
		return Quiz{}, err
	}
	for i := range q.Questions { // counts belong to AnswerQuiz
		q.Questions[i].Counts = slices.Clone(mq.q.Questions[i].Counts)
	}
	mq.q = q
	return cloneQuiz(q), nil
}

// AnswerQuiz implements QuizStore.
func (m *quizMemory) AnswerQuiz(_ context.Context, stream, quizID string, a QuizResponse, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mq, ok := m.quizzes[memKey(stream, quizID)]
	if !ok {
		return ErrNotFound
	}
	q := mq.q
	switch {
	case a.Question < 0 || a.Question >= len(q.Questions) || a.Question != q.Current || q.Status != QuizRunning || q.Revealed:
		return ErrClosed
	case now.Before(q.OpensAt):
		return ErrNotOpenYet
	case !now.Before(q.Deadline):
		return ErrTimeUp
	case a.Choice < 0 || a.Choice >= len(q.Questions[a.Question].Choices):
		return ErrInvalid
	case mq.answered[a.Question][a.User]:
		return ErrDuplicate
	}
	mq.answered[a.Question][a.User] = true
	mq.answers[a.Question] = append(mq.answers[a.Question], a)
	q.Questions[a.Question].Counts[a.Choice]++
	return nil
}

// QuizAnswers implements QuizStore.
func (m *quizMemory) QuizAnswers(_ context.Context, stream, quizID string, question int) ([]QuizResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mq, ok := m.quizzes[memKey(stream, quizID)]
	if !ok {
		return nil, ErrNotFound
	}
	if question < 0 || question >= len(mq.answers) {
		return nil, nil
	}
	return slices.Clone(mq.answers[question]), nil
}

// QuizPlayers implements QuizStore.
func (m *quizMemory) QuizPlayers(_ context.Context, stream, quizID string) ([]QuizPlayer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mq, ok := m.quizzes[memKey(stream, quizID)]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Collect(maps.Values(mq.players)), nil
}

// SaveQuizPlayers implements QuizStore.
func (m *quizMemory) SaveQuizPlayers(_ context.Context, stream, quizID string, players []QuizPlayer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mq, ok := m.quizzes[memKey(stream, quizID)]
	if !ok {
		return ErrNotFound
	}
	for _, p := range players {
		mq.players[p.User] = p
	}
	return nil
}
