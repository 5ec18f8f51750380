package engagement

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// notificationMemory is MemoryStore's NotificationStore: audiences and notification decisions, under a lock of its own.
type notificationMemory struct {
	mu            sync.Mutex
	participants  map[string]map[string]bool // stream → users
	lastStream    map[string]string          // user → stream joined last
	notifDecided  map[notifDecision]string   // (sender, id, user) → decision
	notifSentDays map[string]int             // user + "\x00" + day → sent
}

var _ NotificationStore = (*notificationMemory)(nil)

// notifDecision names one decision: a sender's notification id for one user.
type notifDecision struct{ sender, id, user string }

func newNotificationMemory() *notificationMemory {
	return &notificationMemory{
		participants:  map[string]map[string]bool{},
		lastStream:    map[string]string{},
		notifDecided:  map[notifDecision]string{},
		notifSentDays: map[string]int{},
	}
}

// AddParticipant implements NotificationStore.
func (m *notificationMemory) AddParticipant(_ context.Context, stream, user string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.participants[stream] == nil {
		m.participants[stream] = map[string]bool{}
	}
	m.participants[stream][user] = true
	m.lastStream[user] = stream
	return nil
}

// Participants implements NotificationStore.
func (m *notificationMemory) Participants(_ context.Context, stream string, max int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	users := slices.Sorted(maps.Keys(m.participants[stream]))
	return users[:min(len(users), max)], nil
}

// LastStream implements NotificationStore.
func (m *notificationMemory) LastStream(_ context.Context, user string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.lastStream[user]
	if !ok {
		return "", ErrNotFound
	}
	return st, nil
}

// DecideNotification implements NotificationStore.
func (m *notificationMemory) DecideNotification(_ context.Context, sender, id, user, day string, limit int) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := notifDecision{sender: sender, id: id, user: user}
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
func (m *notificationMemory) NotificationsSent(_ context.Context, user, day string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.notifSentDays[user+"\x00"+day], nil
}
