package loyalty

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// TestChurnWarningEvents: the playbook set's four warnings as events: valid against their schema
// (docs/events/kudos.churn.warning.json), timed at the start of the ISO week in Beijing, with ids derived
// from user and week, so another run (events in another order, a report later the same week) repeats them
// and the next week's differ.
func TestChurnWarningEvents(t *testing.T) {
	evs := playbookEvents(t)
	events := func(a *Aggregator, now time.Time) []engagement.Event {
		t.Helper()
		var out []engagement.Event
		for _, w := range a.Report(now).ChurnWarnings {
			e, err := ChurnWarningEvent(w)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	first := events(playbookAggregator(t, evs), playbookNow)
	if len(first) != 4 {
		t.Fatalf("%d warnings, want 4 (u12 u07 u06 u10)", len(first))
	}
	schemas := testenv.EventSchemas(t, "../../../docs/events")
	weekStart := time.Date(2026, 2, 8, 16, 0, 0, 0, time.UTC) // Monday 2026-02-09 00:00 Beijing
	for _, e := range first {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if typ, err := testenv.ValidateEvent(schemas, raw); err != nil || typ != engagement.EventChurnWarning {
			t.Errorf("%s: type %q, schema: %v", raw, typ, err)
		}
		if want := engagement.DerivedEventID(weekStart, "churn-warning:"+e.UserID+":2026-W07"); e.ID != want {
			t.Errorf("%s: id %s, want %s", e.UserID, e.ID, want)
		}
		if !e.Time.Equal(weekStart) || e.Source != SignalSource || e.Subject != "" || e.Key() != e.UserID {
			t.Errorf("%s: time %s source %s subject %q key %q", e.UserID, e.Time, e.Source, e.Subject, e.Key())
		}
	}
	var u06 churnWarningData
	if err := json.Unmarshal(first[2].Data, &u06); err != nil {
		t.Fatal(err)
	}
	if first[2].UserID != "u06" || first[2].Variant != "b" || u06 != (churnWarningData{Week: "2026-W07", Segment: SegmentHighValue,
		LastActive: "2026-01-21", DaysInactive: 21, GMV90dFen: 100000}) {
		t.Errorf("u06's warning: %s %s %+v", first[2].UserID, first[2].Variant, u06)
	}

	// Another run: the events in reverse order, a report 21:59 later (still Wednesday 2026-02-11 in Beijing).
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	again := events(playbookAggregator(t, rev), bj(41, 23, 59, 0))
	if ids, againIDs := eventIDs(first), eventIDs(again); !slices.Equal(ids, againIDs) {
		t.Errorf("a re-run gave ids %v, want %v", againIDs, ids)
	}
	// Sunday 2026-02-15 is still week 7: u07, u06 and u10, still 15..30 days gone, get the same ids (u12 is
	// past 30 days, u04 u09 n3 n4 have come in).
	sunday := byUser(events(playbookAggregator(t, evs), bj(45, 23, 0, 0)))
	if got := slices.Sorted(maps.Keys(sunday)); !slices.Equal(got, []string{"n3", "n4", "u04", "u06", "u07", "u09", "u10"}) {
		t.Errorf("warned on Sunday: %v", got)
	}
	for user, e := range byUser(first) {
		if s, ok := sunday[user]; ok && s.ID != e.ID {
			t.Errorf("%s: id %s on Sunday, %s on Wednesday", user, s.ID, e.ID)
		}
	}
	// Monday 2026-02-16 (week 8): new ids for those still warned.
	monday := events(playbookAggregator(t, evs), bj(46, 9, 0, 0))
	for _, e := range monday {
		if slices.Contains(eventIDs(first), e.ID) {
			t.Errorf("week 8 repeats week 7's id %s (%s)", e.ID, e.UserID)
		}
	}
	if len(monday) == 0 {
		t.Error("no warnings in week 8")
	}
}

func eventIDs(evs []engagement.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	slices.Sort(ids)
	return ids
}

func byUser(evs []engagement.Event) map[string]engagement.Event {
	out := map[string]engagement.Event{}
	for _, e := range evs {
		out[e.UserID] = e
	}
	return out
}

// TestSignalsToKafka publishes the playbook set's warnings twice, as two runs of the consumer would (each
// run reporting twice), to a fresh topic of the real broker, and reads back 8 records: each id twice, keyed
// by user, with the CloudEvents headers.
func TestSignalsToKafka(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := testTopic(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for run := range 2 {
		r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow)
		w := NewSignalWriter(brokers, topic, nil)
		n, err := w.Publish(ctx, r)
		if err != nil || n != 4 {
			t.Fatalf("run %d: published %d, %v", run, n, err)
		}
		// The next report of the same run (follow mode) publishes nothing new.
		if n, err = w.Publish(ctx, r); err != nil || n != 0 {
			t.Fatalf("run %d, second report: published %d, %v", run, n, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: fmt.Sprintf("signals-test-%d", time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
	})
	defer reader.Close()
	ids := map[string]int{}
	for range 8 {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: %v (ids so far %v)", topic, err, ids)
		}
		var e engagement.Event
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for _, h := range m.Headers {
			headers[h.Key] = string(h.Value)
		}
		want := map[string]string{"content-type": "application/cloudevents+json; charset=UTF-8", "ce_type": engagement.EventChurnWarning, "ce_id": e.ID}
		if !maps.Equal(headers, want) || string(m.Key) != e.UserID || !m.Time.Equal(e.Time) {
			t.Errorf("record key %q time %s headers %v; want key %q time %s headers %v", m.Key, m.Time, headers, e.UserID, e.Time, want)
		}
		ids[e.ID]++
	}
	if len(ids) != 4 {
		t.Errorf("ids %v: want 4 ids, each twice", ids)
	}
	quiet, cancelQuiet := context.WithTimeout(ctx, 2*time.Second)
	defer cancelQuiet()
	if m, err := reader.FetchMessage(quiet); err == nil {
		t.Errorf("a 9th record: %s", m.Value)
	}
	for id, n := range ids {
		if n != 2 {
			t.Errorf("id %s read %d times, want 2", id, n)
		}
	}
}
