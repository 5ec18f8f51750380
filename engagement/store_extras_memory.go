package engagement

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// extrasMemory is MemoryStore's share for ExtrasStore: questions, timelines, participants and notification
// counts. It has its own lock so that a burst of upvotes does not queue behind chat or polls.
type extrasMemory struct {
	extrasMu      sync.Mutex
	questions     map[string]map[string]*memQuestion // stream → id → question
	pinned        map[string]string                  // stream → pinned question id
	timelines     map[string]*memTimeline
	participants  map[string]map[string]bool // stream → users
	lastStream    map[string]string          // user → stream joined last
	notifDecided  map[string]string          // id + "\x00" + user → decision
	notifSentDays map[string]int             // user + "\x00" + day → sent
}

type memQuestion struct {
	q      Question
	voters map[string]bool
}

type memTimeline struct {
	items   []TimelineItem // sorted by (OffsetMS, Seq)
	keys    map[string]bool
	hidden  map[string]bool
	nextSeq int64
}

var _ ExtrasStore = (*MemoryStore)(nil)

func newExtrasMemory() *extrasMemory {
	return &extrasMemory{
		questions:     map[string]map[string]*memQuestion{},
		pinned:        map[string]string{},
		timelines:     map[string]*memTimeline{},
		participants:  map[string]map[string]bool{},
		lastStream:    map[string]string{},
		notifDecided:  map[string]string{},
		notifSentDays: map[string]int{},
	}
}

// questionView returns a copy of a stored question with its pinned flag.
func (m *extrasMemory) questionView(stream string, mq *memQuestion) Question {
	q := mq.q
	q.Pinned = m.pinned[stream] == q.ID
	return q
}

// AddQuestion implements QuestionStore.
func (m *MemoryStore) AddQuestion(_ context.Context, stream string, q Question, max int) error {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	qs := m.questions[stream]
	if qs == nil {
		qs = map[string]*memQuestion{}
		m.questions[stream] = qs
	}
	if _, ok := qs[q.ID]; ok {
		return Errorf(CodeDuplicate, "question %q exists", q.ID)
	}
	if len(qs) >= max {
		return Errorf(CodeClosed, "this stream has reached its limit of %d questions", max)
	}
	q.Votes, q.Pinned, q.Answered, q.Hidden = 0, false, false, false
	qs[q.ID] = &memQuestion{q: q, voters: map[string]bool{}}
	return nil
}

// Questions implements QuestionStore.
func (m *MemoryStore) Questions(_ context.Context, stream string) ([]Question, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	qs := m.questions[stream]
	out := make([]Question, 0, len(qs))
	for _, mq := range qs {
		out = append(out, m.questionView(stream, mq))
	}
	return out, nil
}

// UpvoteQuestion implements QuestionStore.
func (m *MemoryStore) UpvoteQuestion(_ context.Context, stream, id, user string) (Question, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	mq, ok := m.questions[stream][id]
	if !ok || mq.q.Hidden {
		return Question{}, Errorf(CodeNotFound, "no question %q", id)
	}
	if mq.q.User == user {
		return Question{}, Errorf(CodeForbidden, "you cannot upvote your own question")
	}
	if mq.voters[user] {
		return Question{}, Errorf(CodeDuplicate, "you already upvoted this question")
	}
	mq.voters[user] = true
	mq.q.Votes++
	return m.questionView(stream, mq), nil
}

// SetQuestionFlag implements QuestionStore.
func (m *MemoryStore) SetQuestionFlag(_ context.Context, stream, id, flag string, on bool) (Question, bool, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	mq, ok := m.questions[stream][id]
	if !ok {
		return Question{}, false, Errorf(CodeNotFound, "no question %q", id)
	}
	changed := false
	switch flag {
	case FlagPinned:
		isPinned := m.pinned[stream] == id
		switch {
		case on && mq.q.Hidden:
			return Question{}, false, Invalid("question", "a hidden question cannot be pinned")
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
		return Question{}, false, Invalid("flag", "unknown question flag %q", flag)
	}
	return m.questionView(stream, mq), changed, nil
}

func timelineLess(aOffset, aSeq, bOffset, bSeq int64) int {
	return cmp.Or(cmp.Compare(aOffset, bOffset), cmp.Compare(aSeq, bSeq))
}

// AppendTimeline implements TimelineStore.
func (m *MemoryStore) AppendTimeline(_ context.Context, stream string, item TimelineItem, max int) (bool, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	tl := m.timelines[stream]
	if tl == nil {
		tl = &memTimeline{keys: map[string]bool{}, hidden: map[string]bool{}}
		m.timelines[stream] = tl
	}
	if (item.Key != "" && tl.keys[item.Key]) || len(tl.items) >= max {
		return false, nil
	}
	if item.Key != "" {
		tl.keys[item.Key] = true
	}
	item.Seq = tl.nextSeq
	tl.nextSeq++
	i, _ := slices.BinarySearchFunc(tl.items, item, func(e, t TimelineItem) int {
		return timelineLess(e.OffsetMS, e.Seq, t.OffsetMS, t.Seq)
	})
	tl.items = slices.Insert(tl.items, i, item)
	return true, nil
}

// HideTimeline implements TimelineStore.
func (m *MemoryStore) HideTimeline(_ context.Context, stream, key string) error {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	tl := m.timelines[stream]
	if tl == nil {
		tl = &memTimeline{keys: map[string]bool{}, hidden: map[string]bool{}}
		m.timelines[stream] = tl
	}
	tl.hidden[key] = true
	return nil
}

// TimelineItems implements TimelineStore.
func (m *MemoryStore) TimelineItems(_ context.Context, stream string, from, to, afterOffset, afterSeq int64, limit int) ([]TimelineItem, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	tl := m.timelines[stream]
	if tl == nil {
		return []TimelineItem{}, nil
	}
	startOffset, startSeq := from, int64(-1)
	if timelineLess(afterOffset, afterSeq, startOffset, startSeq) > 0 {
		startOffset, startSeq = afterOffset, afterSeq
	}
	i, _ := slices.BinarySearchFunc(tl.items, TimelineItem{}, func(e, _ TimelineItem) int {
		return timelineLess(e.OffsetMS, e.Seq, startOffset, startSeq)
	})
	if i < len(tl.items) && tl.items[i].OffsetMS == startOffset && tl.items[i].Seq == startSeq {
		i++ // strictly after the cursor
	}
	out := []TimelineItem{}
	for ; i < len(tl.items) && len(out) < limit; i++ {
		it := tl.items[i]
		if it.OffsetMS >= to {
			break
		}
		if tl.hidden[it.Key] {
			continue
		}
		it.Data = slices.Clone(it.Data)
		out = append(out, it)
	}
	return out, nil
}

// AddParticipant implements NotificationStore.
func (m *MemoryStore) AddParticipant(_ context.Context, stream, user string, _ time.Time) error {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	if m.participants[stream] == nil {
		m.participants[stream] = map[string]bool{}
	}
	m.participants[stream][user] = true
	m.lastStream[user] = stream
	return nil
}

// Participants implements NotificationStore.
func (m *MemoryStore) Participants(_ context.Context, stream string, max int) ([]string, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	users := slices.Sorted(maps.Keys(m.participants[stream]))
	return users[:min(len(users), max)], nil
}

// LastStream implements NotificationStore.
func (m *MemoryStore) LastStream(_ context.Context, user string) (string, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	st, ok := m.lastStream[user]
	if !ok {
		return "", Errorf(CodeNotFound, "user %q joined no stream", user)
	}
	return st, nil
}

// DecideNotification implements NotificationStore.
func (m *MemoryStore) DecideNotification(_ context.Context, id, user, day string, limit int) (string, bool, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	key := id + "\x00" + user
	if d, ok := m.notifDecided[key]; ok {
		return d, true, nil
	}
	dayKey := user + "\x00" + day
	d := NotificationCapped
	if m.notifSentDays[dayKey] < limit {
		m.notifSentDays[dayKey]++
		d = NotificationSent
	}
	m.notifDecided[key] = d
	return d, false, nil
}

// NotificationsSent implements NotificationStore.
func (m *MemoryStore) NotificationsSent(_ context.Context, user, day string) (int, error) {
	m.extrasMu.Lock()
	defer m.extrasMu.Unlock()
	return m.notifSentDays[user+"\x00"+day], nil
}
