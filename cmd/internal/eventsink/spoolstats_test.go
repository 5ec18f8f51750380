package eventsink

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// sample is one metric family's value read from a registry: a gauge's value, or a histogram's count and
// sum (for the child with the given result label, when set).
type sample struct {
	value, count, sum float64
	found             bool
}

func gather(t *testing.T, reg *prometheus.Registry, name, result string) sample {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if result != "" {
				match := false
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" && l.GetValue() == result {
						match = true
					}
				}
				if !match {
					continue
				}
			}
			if g := m.GetGauge(); g != nil {
				return sample{value: g.GetValue(), found: true}
			}
			if h := m.GetHistogram(); h != nil {
				return sample{count: float64(h.GetSampleCount()), sum: h.GetSampleSum(), found: true}
			}
		}
	}
	return sample{}
}

// agedEvents returns n events whose time is age ago.
func agedEvents(t *testing.T, n int, age time.Duration) []engagement.Event {
	var out []engagement.Event
	for i := range n {
		e := testEvent(t, "aged", i)
		e.Time = time.Now().Add(-age).UTC().Truncate(time.Millisecond)
		out = append(out, e)
	}
	return out
}

// TestSpoolDepthAgeAndFsyncMetrics: without Kafka, the depth gauge counts the events spooled, the age gauge
// reads the oldest one's time, one Publish is one timed group commit; a new Sink on the same spool counts
// what an earlier process left.
func TestSpoolDepthAgeAndFsyncMetrics(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := New(context.Background(), Config{Dir: dir, Registerer: reg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if g := gather(t, reg, "kudos_eventsink_spool_oldest_age_seconds", ""); !g.found || g.value != 0 {
		t.Errorf("empty spool: oldest age %+v, want 0", g)
	}
	if err := s.Publish(context.Background(), agedEvents(t, 3, 90*time.Second)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), testEvent(t, "fresh", 0)); err != nil {
		t.Fatal(err)
	}
	if g := gather(t, reg, "kudos_eventsink_spool_events", ""); g.value != 4 {
		t.Errorf("spool events = %v, want 4", g.value)
	}
	if g := gather(t, reg, "kudos_eventsink_spool_oldest_age_seconds", ""); g.value < 90 || g.value > 100 {
		t.Errorf("oldest age = %v s, want the first event's 90 s (and a little)", g.value)
	}
	if h := gather(t, reg, "kudos_eventsink_spool_fsync_seconds", ""); h.count != 2 || h.sum <= 0 {
		t.Errorf("fsync histogram count %v sum %v, want 2 group commits taking some time", h.count, h.sum)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	reg2 := prometheus.NewRegistry()
	s2, err := New(context.Background(), Config{Dir: dir, Registerer: reg2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if g := gather(t, reg2, "kudos_eventsink_spool_events", ""); g.value != 4 {
		t.Errorf("after reopening: spool events = %v, want the 4 left behind", g.value)
	}
	if g := gather(t, reg2, "kudos_eventsink_spool_oldest_age_seconds", ""); g.value < 90 {
		t.Errorf("after reopening: oldest age = %v s, want at least 90", g.value)
	}
}

// TestProduceMetricsDrainAndFail: with a broker the produce histogram counts acknowledged writes and the
// spool gauges fall back to 0; with an address nobody listens on, writes are counted as errors and the
// oldest event keeps its age.
func TestProduceMetricsDrainAndFail(t *testing.T) {
	t.Run("drained", func(t *testing.T) {
		addr, _ := startDevBroker(t, "")
		reg := prometheus.NewRegistry()
		s, err := New(context.Background(), Config{Dir: t.TempDir(), Brokers: []string{addr}, Topic: testTopic(t), Registerer: reg, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Publish(context.Background(), agedEvents(t, 5, time.Minute)...); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if h := gather(t, reg, "kudos_eventsink_kafka_produce_seconds", "ok"); h.count < 1 || h.sum <= 0 {
			t.Errorf("produce ok: %+v, want at least one timed write", h)
		}
		if h := gather(t, reg, "kudos_eventsink_kafka_produce_seconds", "error"); !h.found || h.count != 0 {
			t.Errorf("produce error: %+v, want present and 0", h)
		}
		if g := gather(t, reg, "kudos_eventsink_spool_events", ""); g.value != 0 {
			t.Errorf("spool events after flush = %v, want 0", g.value)
		}
		if g := gather(t, reg, "kudos_eventsink_spool_oldest_age_seconds", ""); g.value != 0 {
			t.Errorf("oldest age after flush = %v, want 0", g.value)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s, err := New(context.Background(), Config{Dir: t.TempDir(), Brokers: []string{testenv.FreeAddr(t)}, Topic: testTopic(t),
			Registerer: reg, Logger: quietLogger(), FlushTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Publish(context.Background(), agedEvents(t, 2, 10*time.Minute)...); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for gather(t, reg, "kudos_eventsink_kafka_produce_seconds", "error").count < 1 {
			if time.Now().After(deadline) {
				t.Fatal("no failed Kafka write counted within 20 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if h := gather(t, reg, "kudos_eventsink_kafka_produce_seconds", "ok"); h.count != 0 {
			t.Errorf("produce ok = %v with no broker, want 0", h.count)
		}
		if g := gather(t, reg, "kudos_eventsink_spool_events", ""); g.value != 2 {
			t.Errorf("spool events = %v, want 2", g.value)
		}
		if g := gather(t, reg, "kudos_eventsink_spool_oldest_age_seconds", ""); math.Abs(g.value-600) > 30 {
			t.Errorf("oldest age = %v s, want about 600", g.value)
		}
	})
}
