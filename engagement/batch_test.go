package engagement

import (
	"context"
	"sync"
	"testing"
)

// countingSink records each Publish call's events.
type countingSink struct {
	mu    sync.Mutex
	calls [][]Event
}

func (c *countingSink) Publish(_ context.Context, events ...Event) error {
	c.mu.Lock()
	c.calls = append(c.calls, append([]Event(nil), events...))
	c.mu.Unlock()
	return nil
}

func (c *countingSink) Close() error { return nil }

// TestActionEventsShareOnePublish: a comment and the points it earns reach the sink in one Publish (one spool
// commit), in the order they happened.
func TestActionEventsShareOnePublish(t *testing.T) {
	ctx := context.Background()
	sink := &countingSink{}
	s := New(Config{}, NewMemoryStore(), sink)
	if _, err := s.CreateStream(ctx, testHost, StreamSpec{ID: "s1", Title: "Show"}); err != nil {
		t.Fatal(err)
	}
	before := len(sink.calls)
	if _, err := s.Handle(ctx, testViewer, "s1", &CommentSend{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	calls := sink.calls[before:]
	if len(calls) != 1 {
		t.Fatalf("%d Publish calls for one comment, want 1", len(calls))
	}
	var types []string
	for _, e := range calls[0] {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != EventCommentPosted || types[1] != EventPointsAwarded {
		t.Fatalf("events %v, want comment.posted then points.awarded", types)
	}
	// A refused action publishes nothing.
	before = len(sink.calls)
	if _, err := s.Handle(ctx, testViewer, "s1", &CommentSend{Text: "   "}); err == nil {
		t.Fatal("empty comment accepted")
	}
	if len(sink.calls) != before {
		t.Fatalf("a refused comment published %d calls", len(sink.calls)-before)
	}
}
