package eventsink

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/engagement"
)

// TestRecordsFromMetasAreTheDecodedOnes: the records the forwarder makes from the fields kept at Publish
// are those it makes by decoding the spool lines (after a restart): same topic, key, value, time and
// headers, for events keyed by user, by stream, by nothing, and for a line that is not a valid event (the
// dead-letter topic either way).
func TestRecordsFromMetasAreTheDecodedOnes(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, Topic: "kudos.events", Source: "kudos/n1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// No forwarder here (no brokers), so the test reads the spool itself; the writer keeps the metas as with
	// one. (Set before the first Publish, which the writer receives after it.)
	s.keepMetas = true
	at := time.Date(2026, 3, 1, 20, 0, 0, 123_456_789, time.FixedZone("CST", 8*3600))
	var events []engagement.Event
	for i, user := range []string{"ann", "", "bob", ""} {
		subject := "s1"
		if i == 3 {
			subject = "" // neither user nor stream: no key
		}
		e, err := engagement.NewEvent("", engagement.EventLikeSent, subject, user, "", at.Add(time.Duration(i)*time.Second), map[string]int{"seq": i})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	noID := events[0]
	noID.ID = ""
	if err := s.Publish(context.Background(), events[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), events[1:]...); err != nil { // one group, several lines
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), noID); err != nil {
		t.Fatal(err)
	}

	r := &spoolReader{dir: dir, pos: position{seg: 1}}
	defer r.closeFile()
	recs, err := r.read(s.committed.get(), 100, readBytes)
	if err != nil || len(recs) != 5 {
		t.Fatalf("read %d records (%v), want 5", len(recs), err)
	}
	fromMeta := s.messages(nil, recs)
	if n := len(s.metas.q) - s.metas.head; n != 0 {
		t.Errorf("%d metas left after the forwarder took its records", n)
	}
	decoded := (&Sink{cfg: s.cfg, log: quietLogger()}).messages(nil, recs)
	if len(fromMeta) != 5 || len(decoded) != 5 {
		t.Fatalf("%d and %d records, want 5", len(fromMeta), len(decoded))
	}
	for i := range fromMeta {
		m, d := fromMeta[i], decoded[i]
		if m.Topic != d.Topic || !bytes.Equal(m.Key, d.Key) || (m.Key == nil) != (d.Key == nil) || !bytes.Equal(m.Value, d.Value) || !m.Time.Equal(d.Time) {
			t.Errorf("record %d from meta: topic %q key %q time %v value %s\ndecoded: topic %q key %q time %v value %s",
				i, m.Topic, m.Key, m.Time, m.Value, d.Topic, d.Key, d.Time, d.Value)
		}
		if fmt.Sprint(headerMap(m.Headers)) != fmt.Sprint(headerMap(d.Headers)) {
			t.Errorf("record %d headers %v, decoded %v", i, headerMap(m.Headers), headerMap(d.Headers))
		}
	}
	if want := []string{"ann", "s1", "bob", ""}; string(fromMeta[0].Key) != want[0] || string(fromMeta[1].Key) != want[1] ||
		string(fromMeta[2].Key) != want[2] || fromMeta[3].Key != nil {
		t.Errorf("keys %q %q %q %q, want %q", fromMeta[0].Key, fromMeta[1].Key, fromMeta[2].Key, fromMeta[3].Key, want)
	}
	if fromMeta[4].Topic != "kudos.events"+deadLetterSuffix {
		t.Errorf("an event without id went to %q, want the dead-letter topic", fromMeta[4].Topic)
	}
}

func headerMap(hs []kafka.Header) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestNoMetasWithoutForwarder: a spool-only sink (no brokers) keeps no metas, which nothing would take.
func TestNoMetasWithoutForwarder(t *testing.T) {
	s, err := New(context.Background(), Config{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(context.Background(), testEvent(t, "ann", 1), testEvent(t, "bob", 2)); err != nil {
		t.Fatal(err)
	}
	s.metas.mu.Lock()
	defer s.metas.mu.Unlock()
	if n := len(s.metas.q); n != 0 {
		t.Errorf("%d metas kept by a sink without a forwarder", n)
	}
}

// TestMetaQueueBoundedAndInOrder: a full queue drops what is pushed (those lines are decoded), and take
// finds a line's meta by its end, skipping metas of lines before it and never returning another line's.
func TestMetaQueueBoundedAndInOrder(t *testing.T) {
	var mq metaQueue
	meta := func(off int64) recordMeta { return recordMeta{end: position{seg: 1, off: off}, ok: true} }
	batch := make([]recordMeta, metaQueueMax)
	for i := range batch {
		batch[i] = meta(int64(10 * (i + 1)))
	}
	mq.push(batch)
	mq.push([]recordMeta{meta(10 * (metaQueueMax + 1))}) // full: dropped
	if _, ok := mq.take(position{seg: 1, off: 5}); ok {
		t.Error("took a meta for a line no meta ends at")
	}
	if m, ok := mq.take(position{seg: 1, off: 20}); !ok || m.end.off != 20 {
		t.Errorf("take(20) = %+v, %v; want the meta ending at 20 (the one before skipped)", m, ok)
	}
	if _, ok := mq.take(position{seg: 1, off: 10}); ok {
		t.Error("took a meta of a line before the last one taken")
	}
	if m, ok := mq.take(position{seg: 1, off: 10 * metaQueueMax}); !ok || m.end.off != 10*metaQueueMax {
		t.Errorf("take(last) = %+v, %v", m, ok)
	}
	if _, ok := mq.take(position{seg: 1, off: 10 * (metaQueueMax + 1)}); ok {
		t.Error("took the meta that was pushed into a full queue")
	}
	mq.push([]recordMeta{meta(1), {end: position{seg: 2, off: 7}, ok: true}}) // room again; compacts
	if m, ok := mq.take(position{seg: 2, off: 7}); !ok || m.end.seg != 2 {
		t.Errorf("take in the next segment = %+v, %v", m, ok)
	}
}
