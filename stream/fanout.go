package stream

import (
	"context"
	"sync"
)

// Message is one delivery to the sockets of a stream, on every node.
type Message struct {
	Stream string `json:"s"`
	// User, if set, limits delivery to that user's sockets.
	User string `json:"u,omitempty"`
	// HostsOnly limits delivery to host and admin sockets.
	HostsOnly bool `json:"h,omitempty"`
	// NotBeforeMS holds the message back until this Unix time in milliseconds (video delay).
	NotBeforeMS int64 `json:"t,omitempty"`
	// Sampled marks chat that hubs may thin out per viewer when a stream floods; From (its author)
	// always receives it.
	Sampled bool   `json:"m,omitempty"`
	From    string `json:"f,omitempty"`
	// End says the stream ended: after delivering, hubs close their sockets and stop.
	End bool `json:"e,omitempty"`
	// Types lists the frame types in Payload, for metrics.
	Types []string `json:"y,omitempty"`
	// Accepted is when a comment in Payload was accepted (or, under a video delay, is due), in Unix
	// nanoseconds of the accepting node's clock, for kudos_ws_comment_fanout_seconds; 0: not timed.
	Accepted int64 `json:"a,omitempty"`
	// Payload is the encoded message: one or more envelopes separated by '\n'.
	Payload []byte `json:"p"`

	// arrived is when the message reached this node's hub (Unix nanoseconds of this node's clock; 0: not
	// through Hub.post), not carried between nodes: the age of chat counts from no earlier than it, so that
	// another node's clock running ahead or behind does not make its comments stale here.
	arrived int64
}

// Fanout carries messages to the hubs of a stream on every node.
//
// Contract: messages published by one node for one stream are delivered to each subscriber in publish order;
// delivery is at most once (a node that is down misses them: live frames are worthless later, and state is
// re-read from the store on join). Subscribe's handler is called from one goroutine per subscription and must
// not block for long. Close stops all subscriptions.
type Fanout interface {
	Publish(ctx context.Context, m Message) error
	// Subscribe calls handle for every message of stream until the returned cancel is called.
	Subscribe(ctx context.Context, stream string, handle func(Message)) (cancel func(), err error)
	Close() error
}

// MemoryFanout is the single-node Fanout: a direct call to the local subscribers.
type MemoryFanout struct {
	mu   sync.RWMutex
	subs map[string]map[int]func(Message)
	next int
}

var _ Fanout = (*MemoryFanout)(nil)

// NewMemoryFanout returns a MemoryFanout.
func NewMemoryFanout() *MemoryFanout { return &MemoryFanout{subs: map[string]map[int]func(Message){}} }

// Publish implements Fanout; it calls the handlers synchronously, in the caller's goroutine.
func (f *MemoryFanout) Publish(_ context.Context, m Message) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, h := range f.subs[m.Stream] {
		h(m)
	}
	return nil
}

// Subscribe implements Fanout.
func (f *MemoryFanout) Subscribe(_ context.Context, stream string, handle func(Message)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs[stream] == nil {
		f.subs[stream] = map[int]func(Message){}
	}
	id := f.next
	f.next++
	f.subs[stream][id] = handle
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs[stream], id)
		if len(f.subs[stream]) == 0 {
			delete(f.subs, stream)
		}
	}, nil
}

// Close implements Fanout.
func (f *MemoryFanout) Close() error { return nil }

// Presence counts viewers per stream over all nodes.
//
// Contract: Set replaces this node's count for a stream (and keeps it alive; a node that stops calling Set
// drops out of the sum within the implementation's expiry); Count returns the sum over live nodes.
type Presence interface {
	Set(ctx context.Context, stream, node string, viewers int) error
	Count(ctx context.Context, stream string) (int, error)
}

// MemoryPresence is the single-node Presence.
type MemoryPresence struct {
	mu     sync.Mutex
	counts map[string]map[string]int
}

var _ Presence = (*MemoryPresence)(nil)

// NewMemoryPresence returns a MemoryPresence.
func NewMemoryPresence() *MemoryPresence { return &MemoryPresence{counts: map[string]map[string]int{}} }

// Set implements Presence.
func (p *MemoryPresence) Set(_ context.Context, stream, node string, viewers int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if viewers == 0 {
		delete(p.counts[stream], node)
		if len(p.counts[stream]) == 0 {
			delete(p.counts, stream)
		}
		return nil
	}
	if p.counts[stream] == nil {
		p.counts[stream] = map[string]int{}
	}
	p.counts[stream][node] = viewers
	return nil
}

// Count implements Presence.
func (p *MemoryPresence) Count(_ context.Context, stream string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts[stream] {
		n += c
	}
	return n, nil
}
