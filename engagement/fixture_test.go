package engagement

import (
	"context"
	"errors"
	"github.com/kudos-live/kudos/internal/testenv"
	"golang.org/x/time/rate"
	"testing"
	"time"
)

// fixture is the one Service fixture of the package's tests: a Service over a MemoryStore and a MemorySink,
// on a settable clock.
type fixture struct {
	svc   *Service
	store *MemoryStore
	sink  *MemorySink
	clock *testenv.Clock
}

// newFixture returns a fixture whose Service runs with cfg on clk (cfg.Now is set to it), and the given live
// streams created by their hosts.
func newFixture(t *testing.T, clk *testenv.Clock, cfg Config, streams ...fixtureStream) *fixture {
	t.Helper()
	f := &fixture{store: NewMemoryStore(), sink: NewMemorySink(), clock: clk}
	cfg.Now = clk.Now
	f.svc = New(cfg, f.store, f.sink)
	for _, st := range streams {
		if _, err := f.svc.CreateStream(context.Background(), st.host, st.spec); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// fixtureStream is a stream newFixture creates: spec, created by host.
type fixtureStream struct {
	host Actor
	spec StreamSpec
}

// newTestService returns the fixture most tests need: stream "s1" hosted by testHost, no comment rate
// limit, on a clock at 2026-11-25 12:00 UTC.
func newTestService(t *testing.T) (*Service, *MemorySink, *testenv.Clock) {
	t.Helper()
	f := newFixture(t, testenv.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)), Config{CommentRate: rate.Inf},
		fixtureStream{testHost, StreamSpec{ID: "s1", Title: "Show"}})
	return f.svc, f.sink, f.clock
}

var (
	testHost   = Actor{User: "host-1", Name: "Host", Role: RoleHost}
	testViewer = Actor{User: "ann", Name: "Ann", Role: RoleViewer}
)

// hostFixture is the fixture with two live streams: "s1" hosted by host1 (with no video delay) and "s2"
// hosted by host2 (with delay ms of video delay), on a clock at 2026-03-01 20:00 UTC.
type hostFixture struct {
	*fixture
	host1 Actor
	host2 Actor
}

func newHostFixture(t *testing.T, delayMS int64) *hostFixture {
	t.Helper()
	f := &hostFixture{
		host1: Actor{User: "host1", Name: "Host One", Role: RoleHost},
		host2: Actor{User: "host2", Name: "Host Two", Role: RoleHost},
	}
	f.fixture = newFixture(t, testenv.NewClock(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)), Config{},
		fixtureStream{f.host1, StreamSpec{ID: "s1", Title: "Stream one"}},
		fixtureStream{f.host2, StreamSpec{ID: "s2", Title: "Stream two", VideoDelayMS: &delayMS}})
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
