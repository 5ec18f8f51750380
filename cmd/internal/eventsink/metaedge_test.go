package eventsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// TestRecordsFromMetasAreTheDecodedOnesForOddEvents: the record the forwarder makes from the fields kept at
// Publish is the one it makes by decoding the spool line (after a restart) also for events whose line does
// not give back the event's own fields: strings that are not UTF-8 (encoding/json writes U+FFFD for the bad
// bytes, so the decoded key and ce_id differ), a time whose milliseconds are the zero time, and years the
// line cannot carry as RFC 3339 (decoding fails: dead letter). Otherwise the same event would be keyed,
// partitioned or routed one way before a restart and another way after it.
func TestRecordsFromMetasAreTheDecodedOnesForOddEvents(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, Topic: "kudos.events", Source: "kudos/n1", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.keepMetas = true // as with a forwarder; the test reads the spool itself
	base := testEvent(t, "ann", 1)
	odd := map[string]func(e *engagement.Event){
		"user not UTF-8":    func(e *engagement.Event) { e.UserID = "ann\xff" },
		"subject not UTF-8": func(e *engagement.Event) { e.UserID, e.Subject = "", "s\xfe1" },
		"id not UTF-8":      func(e *engagement.Event) { e.ID = "01J\xc3" },
		"type not UTF-8":    func(e *engagement.Event) { e.Type = "like.sent\x80" },
		"sub-ms after zero": func(e *engagement.Event) { e.Time = time.Time{}.Add(500 * time.Microsecond) },
		"year 10000":        func(e *engagement.Event) { e.Time = time.Date(10000, 1, 2, 3, 4, 5, 0, time.UTC) },
		"year -1":           func(e *engagement.Event) { e.Time = time.Date(-1, 1, 2, 3, 4, 5, 0, time.UTC) },
		"year 0, sub-ms":    func(e *engagement.Event) { e.Time = time.Date(0, 6, 1, 0, 0, 0, 1_500_000, time.UTC) },
		"plain (the usual)": func(*engagement.Event) {},
		"unicode user":      func(e *engagement.Event) { e.UserID = "用户-ü" },
		"zone other than UTC": func(e *engagement.Event) {
			e.Time = time.Date(2026, 3, 1, 20, 0, 0, 123_456_789, time.FixedZone("CST", 8*3600))
		},
	}
	var names []string
	for name, change := range odd {
		e := base
		change(&e)
		if err := s.Publish(context.Background(), e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		names = append(names, name)
	}
	r := &spoolReader{dir: dir, pos: position{seg: 1}}
	defer r.closeFile()
	recs, err := r.read(s.committed.get(), 100, readBytes)
	if err != nil || len(recs) != len(names) {
		t.Fatalf("read %d records (%v), want %d", len(recs), err, len(names))
	}
	fromMeta := s.messages(nil, recs)
	decoded := (&Sink{cfg: s.cfg, log: quietLogger()}).messages(nil, recs)
	for i, name := range names {
		m, d := fromMeta[i], decoded[i]
		if m.Topic != d.Topic || !bytes.Equal(m.Key, d.Key) || (m.Key == nil) != (d.Key == nil) || !m.Time.Equal(d.Time) {
			t.Errorf("%s: from meta topic %q key %q time %v; decoded topic %q key %q time %v (line %s)",
				name, m.Topic, m.Key, m.Time, d.Topic, d.Key, d.Time, recs[i].line)
		}
		if fmt.Sprint(headerMap(m.Headers)) != fmt.Sprint(headerMap(d.Headers)) {
			t.Errorf("%s: headers from meta %q, decoded %q", name, headerMap(m.Headers), headerMap(d.Headers))
		}
	}
}

// TestEmptyDataIsRefusedAsByMarshal: an event whose Data is empty but not nil is not JSON; json.Marshal
// refuses it, and so must Publish (the fast encoder must not write it as "data":null).
func TestEmptyDataIsRefusedAsByMarshal(t *testing.T) {
	e := testEvent(t, "ann", 1)
	e.Data = json.RawMessage{}
	if b, err := json.Marshal(e); err == nil {
		t.Fatalf("json.Marshal wrote %s for empty Data; the test assumes it fails", b)
	}
	if got, ok := appendEvent(nil, &e); ok {
		t.Errorf("appendEvent wrote %s for empty (non-nil) Data; json.Marshal fails", got)
	}
	s, err := New(context.Background(), Config{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(context.Background(), e); err == nil {
		t.Error("Publish accepted an event with empty (non-nil) Data")
	}
	if n := s.Stats().Spooled; n != 0 {
		t.Errorf("%d events spooled, want 0", n)
	}
}

// TestReadBoundsBatchBytes: one read (one Kafka call) takes at most readBytes of lines, whatever the number
// of lines and segments. kafka-go cuts a partition's records of one call into produce requests of at most
// BatchBytes (1 MiB); two requests for one partition are written and retried on their own, so a failed first
// and a successful second would put a user's later events in Kafka before the earlier ones.
func TestReadBoundsBatchBytes(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, SegmentBytes: 300 << 10, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("x", 2000)
	var events []engagement.Event
	for i := range batchSize {
		e, err := engagement.NewEvent("kudos/n1", engagement.EventLikeSent, "s1", "ann", "", time.Now(), map[string]any{"seq": i, "pad": big})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	for i := 0; i < len(events); i += 50 { // several commits, over several segments
		if err := s.Publish(context.Background(), events[i:i+50]...); err != nil {
			t.Fatal(err)
		}
	}
	r := &spoolReader{dir: dir, pos: position{seg: 1}}
	defer r.closeFile()
	total, calls := 0, 0
	for r.pos.before(s.committed.get()) {
		recs, err := r.read(s.committed.get(), batchSize, readBytes)
		if err != nil || len(recs) == 0 {
			t.Fatalf("read: %d records, %v", len(recs), err)
		}
		n := 0
		for _, rec := range recs {
			n += len(rec.line) + 1
		}
		if n > readBytes {
			t.Errorf("one read took %d records, %d bytes; at most %d bytes", len(recs), n, readBytes)
		}
		total += len(recs)
		calls++
	}
	if total != batchSize {
		t.Errorf("read %d records in %d reads, want %d", total, calls, batchSize)
	}
}
