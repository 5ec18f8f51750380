package engagement

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// hostClock is a settable clock for Config.Now.
type hostClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *hostClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *hostClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hostFixture is a Service over a MemoryStore with two live streams: "s1" hosted by host1 (with no video
// delay) and "s2" hosted by host2 (with delay ms of video delay).
type hostFixture struct {
	svc   *Service
	store *MemoryStore
	sink  *MemorySink
	clock *hostClock
	host1 Actor
	host2 Actor
}

func newHostFixture(t *testing.T, delayMS int64) *hostFixture {
	t.Helper()
	f := &hostFixture{
		store: NewMemoryStore(),
		sink:  NewMemorySink(),
		clock: &hostClock{t: time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)},
		host1: Actor{User: "host1", Name: "Host One", Role: RoleHost},
		host2: Actor{User: "host2", Name: "Host Two", Role: RoleHost},
	}
	f.svc = New(Config{Now: f.clock.Now}, f.store, f.sink)
	ctx := context.Background()
	if _, err := f.svc.CreateStream(ctx, f.host1, StreamSpec{ID: "s1", Title: "Stream one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateStream(ctx, f.host2, StreamSpec{ID: "s2", Title: "Stream two", VideoDelayMS: &delayMS}); err != nil {
		t.Fatal(err)
	}
	return f
}

func viewer(id string) Actor { return Actor{User: id, Name: "Viewer " + id, Role: RoleViewer} }

// wantCode fails unless err carries code (nil code: err must be nil).
func wantHostCode(t *testing.T, err error, code Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	if got := CodeOf(err); got != code {
		t.Fatalf("code = %s (%v), want %s", got, err, code)
	}
}

// frames returns the frames of type typ in frames.
func framesOf(frames []Frame, typ string) []Frame {
	var out []Frame
	for _, f := range frames {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// eventsOf returns the published events of type typ.
func (f *hostFixture) eventsOf(typ string) []Event {
	var out []Event
	for _, e := range f.sink.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func isInvalidField(err error, field string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeInvalid && e.Field == field
}
