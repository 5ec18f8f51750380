package engagement

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// notificationMemory is MemoryStore's NotificationStore: audiences and notification decisions, under a lock
// of its own. As on Redis, a stream's audience goes StreamTTL after its last join, a user's last stream
// StreamTTL after the join, and a decision or a day's count notificationTTL after it was last written.
type notificationMemory struct {
	mu            sync.Mutex
	life          *memLife
	prune         memPrune
	participants  map[string]map[string]bool // stream → users
	lastStream    map[string]memLast         // user → stream joined last
	notifDecided  map[notifDecision]memNotif // (sender, id, user) → decision
	notifSentDays map[string]memNotif        // user + "\x00" + day → sent
}

var _ NotificationStore = (*notificationMemory)(nil)

// notifDecision names one decision: a sender's notification id for one user.
type notifDecision struct{ sender, id, user string }

// memLast is the stream a user joined last, until it expires.
type memLast struct {
	stream  string
	expires time.Time
}

// memNotif is a decision (or a day's count, in sent) until it expires.
type memNotif struct {
	decision string
	sent     int
	expires  time.Time
}

func newNotificationMemory(life *memLife) *notificationMemory {
	return &notificationMemory{
		life:          life,
		prune:         newMemPrune(),
		participants:  map[string]map[string]bool{},
		lastStream:    map[string]memLast{},
		notifDecided:  map[notifDecision]memNotif{},
		notifSentDays: map[string]memNotif{},
	}
}

// write records a write to stream's audience (or none, stream "") and, when a prune is due, drops the
// audiences of idle streams and whatever expired. It returns the store's clock reading.
func (m *notificationMemory) write(stream string) time.Time {
	now := m.life.now()
	gone := m.prune.write(stream, now, m.life.ttl)
	if gone == nil {
		return now
	}
	dropStreams(m.participants, gone)
	maps.DeleteFunc(m.lastStream, func(_ string, l memLast) bool { return !now.Before(l.expires) })
	maps.DeleteFunc(m.notifDecided, func(_ notifDecision, n memNotif) bool { return !now.Before(n.expires) })
	maps.DeleteFunc(m.notifSentDays, func(_ string, n memNotif) bool { return !now.Before(n.expires) })
	return now
}

// AddParticipant implements NotificationStore.
func (m *notificationMemory) AddParticipant(_ context.Context, stream, user string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.write(stream)
	if m.participants[stream] == nil {
		m.participants[stream] = map[string]bool{}
	}
	m.participants[stream][user] = true
	m.lastStream[user] = memLast{stream: stream, expires: now.Add(m.life.ttl)}
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
	l, ok := m.lastStream[user]
	if !ok || !m.life.now().Before(l.expires) {
		return "", ErrNotFound
	}
	return l.stream, nil
}

// DecideNotification implements NotificationStore.
func (m *notificationMemory) DecideNotification(_ context.Context, sender, id, user, day string, limit int) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.write("")
	key := notifDecision{sender: sender, id: id, user: user}
	if d, ok := m.notifDecided[key]; ok && now.Before(d.expires) {
		return d.decision, true, nil
	}
	expires := now.Add(notificationTTL)
	dayKey := user + "\x00" + day
	sent := m.notifSentDays[dayKey]
	if !now.Before(sent.expires) {
		sent.sent = 0
	}
	d := NotificationCapped
	if sent.sent < limit {
		sent.sent++
		d = NotificationSent
	}
	m.notifSentDays[dayKey] = memNotif{sent: sent.sent, expires: expires} // the day lives on, as its hash on Redis
	m.notifDecided[key] = memNotif{decision: d, expires: expires}
	return d, false, nil
}

// NotificationsSent implements NotificationStore.
func (m *notificationMemory) NotificationsSent(_ context.Context, user, day string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.notifSentDays[user+"\x00"+day]; ok && m.life.now().Before(n.expires) {
		return n.sent, nil
	}
	return 0, nil
}
