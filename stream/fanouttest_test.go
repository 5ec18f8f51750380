package stream

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// conformanceWait bounds every wait for a delivery in the conformance suites.
const conformanceWait = 10 * time.Second

// runFanoutConformance is the one test suite of Fanout. newNodes returns two Fanouts that act as two nodes
// sharing one backend (a single-node implementation returns the same value twice); the caller closes them.
func runFanoutConformance(t *testing.T, newNodes func(t *testing.T) (a, b Fanout)) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, a, b Fanout)
	}{
		{"DeliversInOrderToEveryNode", testFanoutOrder},
		{"StreamsAreSeparate", testFanoutStreamsSeparate},
		{"CancelStopsDelivery", testFanoutCancel},
		{"ResubscribeAfterCancel", testFanoutResubscribe},
		{"ConcurrentPublishersKeepTheirOrder", testFanoutConcurrentPublishers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newNodes(t)
			tt.run(t, a, b)
		})
	}
}

// runPresenceConformance is the one test suite of Presence. newNodes returns two Presences that act as two
// nodes sharing one backend (a single-node implementation returns the same value twice).
func runPresenceConformance(t *testing.T, newNodes func(t *testing.T) (a, b Presence)) {
	t.Helper()
	t.Run("SumsNodes", func(t *testing.T) {
		a, b := newNodes(t)
		ctx := context.Background()
		type step struct {
			p              Presence
			stream, node   string
			viewers        int
			wantS1, wantS2 int
		}
		steps := []step{
			{a, "s1", "n1", 3, 3, 0},
			{b, "s1", "n2", 4, 7, 0},
			{a, "s1", "n1", 5, 9, 0}, // Set replaces this node's count
			{b, "s2", "n2", 2, 9, 2}, // another stream
			{b, "s1", "n2", 0, 5, 2}, // 0 removes the node
			{a, "s1", "n1", 0, 0, 2}, // and the last node
			{a, "s1", "n3", 0, 0, 2}, // removing an absent node is fine
		}
		for i, s := range steps {
			if err := s.p.Set(ctx, s.stream, s.node, s.viewers); err != nil {
				t.Fatalf("step %d: Set: %v", i, err)
			}
			for _, p := range []Presence{a, b} {
				for _, c := range []struct {
					stream string
					want   int
				}{{"s1", s.wantS1}, {"s2", s.wantS2}} {
					got, err := p.Count(ctx, c.stream)
					if err != nil {
						t.Fatalf("step %d: Count(%s): %v", i, c.stream, err)
					}
					if got != c.want {
						t.Errorf("step %d (%s %s=%d): Count(%s) = %d, want %d", i, s.stream, s.node, s.viewers, c.stream, got, c.want)
					}
				}
			}
		}
	})
}

func TestMemoryFanoutConformance(t *testing.T) {
	runFanoutConformance(t, func(*testing.T) (Fanout, Fanout) {
		f := NewMemoryFanout()
		return f, f
	})
}

func TestMemoryPresenceConformance(t *testing.T) {
	runPresenceConformance(t, func(*testing.T) (Presence, Presence) {
		p := NewMemoryPresence()
		return p, p
	})
}

// collector records the messages a handler receives.
type collector struct {
	mu   sync.Mutex
	msgs []Message
	more chan struct{} // signalled on each message
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) handle(m Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

func (c *collector) snapshot() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// waitFor waits until done reports true of the messages so far, or fails the test after conformanceWait.
func (c *collector) waitFor(t *testing.T, what string, done func([]Message) bool) []Message {
	t.Helper()
	deadline := time.NewTimer(conformanceWait)
	defer deadline.Stop()
	for {
		if ms := c.snapshot(); done(ms) {
			return ms
		}
		select {
		case <-c.more:
		case <-deadline.C:
			t.Fatalf("%s: gave up after %v with %d messages", what, conformanceWait, len(c.snapshot()))
		}
	}
}

func hasPayload(p string) func([]Message) bool {
	return func(ms []Message) bool {
		return slices.ContainsFunc(ms, func(m Message) bool { return string(m.Payload) == p })
	}
}

func subscribe(t *testing.T, f Fanout, stream string, c *collector) func() {
	t.Helper()
	cancel, err := f.Subscribe(context.Background(), stream, c.handle)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", stream, err)
	}
	t.Cleanup(cancel)
	return cancel
}

func publish(t *testing.T, f Fanout, m Message) {
	t.Helper()
	if err := f.Publish(context.Background(), m); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func testFanoutOrder(t *testing.T, a, b Fanout) {
	onA, onB := newCollector(), newCollector()
	subscribe(t, a, "s1", onA)
	subscribe(t, b, "s1", onB)
	const n = 100
	var want []Message
	for i := range n {
		m := Message{Stream: "s1", Payload: fmt.Appendf(nil, `{"type":"comment","data":{"n":%d}}`, i), Types: []string{"comment"}}
		switch i % 4 { // every field travels
		case 1:
			m.User = "u" + strconv.Itoa(i)
			m.Sampled, m.From = true, "u0"
		case 2:
			m.HostsOnly = true
			m.NotBeforeMS = 1_700_000_000_000 + int64(i)
		case 3:
			m.Payload = []byte("a\nb\x00\xff") // not text: the payload is bytes
			m.Types = []string{"a", "b"}
		}
		want = append(want, m)
	}
	want[n-1].End = true
	for _, m := range want {
		publish(t, a, m)
	}
	for _, c := range []struct {
		name string
		col  *collector
	}{{"publishing node", onA}, {"other node", onB}} {
		got := c.col.waitFor(t, c.name, func(ms []Message) bool { return len(ms) >= n })
		if len(got) != n {
			t.Errorf("%s got %d messages, want %d", c.name, len(got), n)
		}
		for i := range min(len(got), n) {
			if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
				t.Errorf("%s message %d:\n got %s\nwant %s", c.name, i, g, w)
				break
			}
		}
	}
}

func testFanoutStreamsSeparate(t *testing.T, a, b Fanout) {
	on1, on2 := newCollector(), newCollector()
	subscribe(t, b, "s1", on1)
	subscribe(t, b, "s2", on2)
	publish(t, a, Message{Stream: "s1", Payload: []byte("one")})
	publish(t, a, Message{Stream: "s2", Payload: []byte("two")})
	publish(t, a, Message{Stream: "s3", Payload: []byte("nobody")})
	publish(t, a, Message{Stream: "s1", Payload: []byte("end")})
	got1 := on1.waitFor(t, "s1", hasPayload("end"))
	got2 := on2.waitFor(t, "s2", hasPayload("two"))
	if len(got1) != 2 || string(got1[0].Payload) != "one" {
		t.Errorf("s1 got %d messages, first %q; want [one end]", len(got1), got1[0].Payload)
	}
	for _, m := range append(got1, got2...) {
		if (m.Stream == "s2") != (string(m.Payload) == "two") {
			t.Errorf("message %q of %s reached the wrong subscriber", m.Payload, m.Stream)
		}
	}
}

func testFanoutCancel(t *testing.T, a, b Fanout) {
	gone, stays := newCollector(), newCollector()
	cancel := subscribe(t, b, "s1", gone)
	subscribe(t, b, "s1", stays)
	publish(t, a, Message{Stream: "s1", Payload: []byte("both")})
	gone.waitFor(t, "first handler", hasPayload("both"))
	stays.waitFor(t, "second handler", hasPayload("both"))
	cancel()
	cancel() // twice is harmless
	publish(t, a, Message{Stream: "s1", Payload: []byte("after")})
	publish(t, a, Message{Stream: "s1", Payload: []byte("marker")})
	stays.waitFor(t, "remaining handler", hasPayload("marker"))
	// Handlers of one node see one message after the other: by now "after" has been handed out.
	if got := gone.snapshot(); len(got) != 1 {
		t.Errorf("cancelled handler got %d messages, want only the one before cancel", len(got))
	}
}

func testFanoutResubscribe(t *testing.T, a, b Fanout) {
	for round := range 3 {
		c := newCollector()
		cancel := subscribe(t, b, "s1", c)
		p := "round " + strconv.Itoa(round)
		publish(t, a, Message{Stream: "s1", Payload: []byte(p)})
		c.waitFor(t, p, hasPayload(p))
		cancel()
	}
}

// testFanoutConcurrentPublishers checks that messages of each publisher arrive in its publish order.
func testFanoutConcurrentPublishers(t *testing.T, a, b Fanout) {
	c := newCollector()
	subscribe(t, b, "s1", c)
	const each = 50
	pubs := []Fanout{a, b, a}
	var wg sync.WaitGroup
	for p, f := range pubs {
		wg.Go(func() {
			for i := range each {
				if err := f.Publish(context.Background(), Message{Stream: "s1", User: strconv.Itoa(p), Payload: []byte(strconv.Itoa(i))}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := c.waitFor(t, "all publishers", func(ms []Message) bool { return len(ms) >= len(pubs)*each })
	next := map[string]int{}
	for _, m := range got {
		if want := strconv.Itoa(next[m.User]); string(m.Payload) != want {
			t.Fatalf("publisher %s: got message %s, want %s", m.User, m.Payload, want)
		}
		next[m.User]++
	}
}
