package engagement

import (
	"context"
	"sync"
)

// EventTopic is the Kafka topic of the event contract (docs/events.md): the one place its name is spelled.
const EventTopic = "kudos.events"

// Sink receives the events of accepted interactions.
//
// Contract: when Publish returns nil the event is durable (for the Kafka sink: in the fsynced spool) and will
// reach the topic at least once, in Publish order for events of the same key. Publish is safe for concurrent
// use. Close flushes what is pending and releases resources; Publish after Close returns an error.
type Sink interface {
	Publish(ctx context.Context, events ...Event) error
	Close() error
}

// Admitter is a Sink that can tell, before an action changes anything, that it could not take the action's
// events (a spool full while Kafka is down): the action is then refused as unavailable, never applied and
// acknowledged with its events dropped.
type Admitter interface {
	Admit() error
}

// MemorySink keeps events in memory; for tests and for running without any event destination.
type MemorySink struct {
	mu     sync.Mutex
	events []Event
}

var _ Sink = (*MemorySink)(nil)

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink { return &MemorySink{} }

// Publish appends events.
func (m *MemorySink) Publish(_ context.Context, events ...Event) error {
	m.mu.Lock()
	m.events = append(m.events, events...)
	m.mu.Unlock()
	return nil
}

// Close does nothing.
func (m *MemorySink) Close() error { return nil }

// Events returns a copy of what was published so far.
func (m *MemorySink) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}
