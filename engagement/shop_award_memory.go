package engagement

import (
	"context"
	"sync"
	"time"
)

// dailyMemory is MemoryStore's DailyStore, under a lock of its own. A day's count and its decisions go
// notificationTTL after they were last written, as their hash does on Redis.
type dailyMemory struct {
	mu    sync.Mutex
	life  *memLife
	days  map[string]*memDaily // user, kind and day → the day's decisions
	swept time.Time
}

var _ DailyStore = (*dailyMemory)(nil)

type memDaily struct {
	ids     map[string]bool // the ids that took a slot
	expires time.Time
}

func newDailyMemory(life *memLife) *dailyMemory {
	return &dailyMemory{life: life, days: map[string]*memDaily{}}
}

// TakeDaily implements DailyStore. As on Redis, an id that took a slot the day before keeps it (a retry
// just after midnight is not a new award).
func (m *dailyMemory) TakeDaily(_ context.Context, user, kind, id, day string, limit int) (bool, bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return false, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.life.now()
	if now.Sub(m.swept) > time.Hour { // forget expired days now and then: bounded by a day's traffic
		for k, v := range m.days {
			if !now.Before(v.expires) {
				delete(m.days, k)
			}
		}
		m.swept = now
	}
	scope := user + "\x00" + kind + "\x00"
	for _, k := range []string{scope + day, scope + d.AddDate(0, 0, -1).Format(time.DateOnly)} {
		if v := m.days[k]; v != nil && now.Before(v.expires) {
			if v.ids[id] {
				return true, true, nil
			}
		}
	}
	today := m.days[scope+day]
	if today == nil || !now.Before(today.expires) {
		today = &memDaily{ids: map[string]bool{}}
		m.days[scope+day] = today
	}
	if len(today.ids) >= limit {
		return false, false, nil // nothing remembered: the id may try again (tomorrow)
	}
	today.ids[id] = true
	today.expires = now.Add(notificationTTL)
	return true, false, nil
}
