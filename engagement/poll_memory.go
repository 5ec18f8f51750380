package engagement

import (
	"context"
	"slices"
	"sync"
	"time"
)

// pollMemory is MemoryStore's PollStore: polls and votes, under a lock of its own. A stream's polls go
// StreamTTL after the last write to any of them.
type pollMemory struct {
	mu          sync.Mutex
	life        *memLife
	prune       memPrune
	polls       map[string]*memPoll        // memKey(stream, id)
	currentPoll map[string]string          // stream → poll id
	voters      map[string]map[string]bool // stream → users who voted in any poll
}

var _ PollStore = (*pollMemory)(nil)

func newPollMemory(life *memLife) *pollMemory {
	return &pollMemory{
		life:        life,
		prune:       newMemPrune(),
		polls:       map[string]*memPoll{},
		currentPoll: map[string]string{},
		voters:      map[string]map[string]bool{},
	}
}

// write records a write to stream's polls; a due prune drops the polls of idle streams.
func (m *pollMemory) write(stream string) {
	gone := m.prune.write(stream, m.life.now(), m.life.ttl)
	dropItems(m.polls, gone)
	dropStreams(m.currentPoll, gone)
	dropStreams(m.voters, gone)
}

type memPoll struct {
	p     Poll
	voted map[string]bool
}

func clonePoll(p Poll) Poll {
	p.Options = slices.Clone(p.Options)
	p.Counts = slices.Clone(p.Counts)
	return p
}

// OpenPoll implements PollStore.
func (m *pollMemory) OpenPoll(_ context.Context, stream string, p Poll) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	if cur, ok := m.polls[memKey(stream, m.currentPoll[stream])]; ok && cur.p.Status == PollOpen {
		return ErrStillOpen
	}
	k := memKey(stream, p.ID)
	if _, ok := m.polls[k]; ok {
		return ErrDuplicate
	}
	p = clonePoll(p)
	p.Status, p.Total = PollOpen, 0
	p.Counts = make([]int64, len(p.Options))
	m.polls[k] = &memPoll{p: p, voted: map[string]bool{}}
	m.currentPoll[stream] = p.ID
	return nil
}

// Poll implements PollStore.
func (m *pollMemory) Poll(_ context.Context, stream, id string) (Poll, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp, ok := m.polls[memKey(stream, id)]
	if !ok {
		return Poll{}, ErrNotFound
	}
	return clonePoll(mp.p), nil
}

// CurrentPoll implements PollStore.
func (m *pollMemory) CurrentPoll(_ context.Context, stream string) (Poll, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp, ok := m.polls[memKey(stream, m.currentPoll[stream])]
	if !ok {
		return Poll{}, ErrNotFound
	}
	return clonePoll(mp.p), nil
}

// VotePoll implements PollStore.
func (m *pollMemory) VotePoll(_ context.Context, stream, id, user string, option int, now time.Time) (Poll, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mp, ok := m.polls[memKey(stream, id)]
	if !ok {
		return Poll{}, ErrNotFound
	}
	if err := mp.p.acceptsVotes(now); err != nil {
		return Poll{}, err
	}
	if option < 0 || option >= len(mp.p.Options) {
		return Poll{}, ErrInvalid
	}
	if mp.voted[user] {
		return Poll{}, ErrDuplicate
	}
	mp.voted[user] = true
	mp.p.Counts[option]++
	mp.p.Total++
	if m.voters[stream] == nil {
		m.voters[stream] = map[string]bool{}
	}
	m.voters[stream][user] = true
	return clonePoll(mp.p), nil
}

// ClosePoll implements PollStore.
func (m *pollMemory) ClosePoll(_ context.Context, stream, id string, now time.Time) (Poll, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(stream)
	mp, ok := m.polls[memKey(stream, id)]
	if !ok {
		return Poll{}, false, ErrNotFound
	}
	if mp.p.Status == PollClosed {
		return clonePoll(mp.p), false, nil
	}
	mp.p.Status, mp.p.ClosedAt = PollClosed, now
	return clonePoll(mp.p), true, nil
}

// HasVoted implements PollStore.
func (m *pollMemory) HasVoted(_ context.Context, stream, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.voters[stream][user], nil
}
