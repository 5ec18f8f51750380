package eventsink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
)

// spoolWithCorruptLine returns a spool dir holding one event, then a line that is not an event.
func spoolWithCorruptLine(t *testing.T, corrupt string) string {
	t.Helper()
	dir := t.TempDir()
	spoolWithLine(t, dir, corrupt+"\n")
	return dir
}

// readDeadLetters returns the values in every partition of topic (up to each one's end offset now).
func readDeadLetters(t *testing.T, broker, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil // no such topic: nothing was written to it
	}
	var out []string
	for _, p := range parts {
		lc, err := kafka.DialLeader(ctx, "tcp", broker, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for i := int64(0); i < last; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, p.ID, err)
			}
			out = append(out, string(m.Value))
		}
		r.Close()
	}
	return out
}

// TestDeadLetterSurvivesKafkaOutage: a corrupt spool line read while Kafka is unreachable is not dropped
// after its one failed try: it reaches the dead-letter topic once Kafka is back, before its batch is
// acknowledged (else it would be lost with the acknowledged spool).
func TestDeadLetterSurvivesKafkaOutage(t *testing.T) {
	const corrupt = `{"not": "an event"}`
	dir := spoolWithCorruptLine(t, corrupt)
	addr := testenv.FreeAddr(t) // nothing listens there yet: Kafka is down
	topic := DefaultTopic
	s, err := New(context.Background(), Config{Dir: dir, Brokers: []string{addr}, Topic: topic, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A failed events write comes after the dead letters' first try in the same round.
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().SendErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed Kafka write while the broker is down")
		}
		time.Sleep(20 * time.Millisecond)
	}

	startDevBroker(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := consumeAll(t, []string{addr}, topic, 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("%d events in the topic, want 1", len(got))
	}
	if got := readDeadLetters(t, addr, topic+deadLetterSuffix); len(got) != 1 || got[0] != corrupt {
		t.Fatalf("dead-letter topic holds %q, want the corrupt line once", got)
	}
}

// TestDeadLetterAloneSurvivesKafkaOutage: the same when the line that is not an event is all that is left to
// send, so no event in its batch shows whether Kafka is back, and Kafka went away after an earlier batch went
// through: it is retried as a failed write until it is delivered.
func TestDeadLetterAloneSurvivesKafkaOutage(t *testing.T) {
	addr, stop := startDevBroker(t, "")
	topic := DefaultTopic
	s, err := New(context.Background(), Config{Dir: t.TempDir(), Brokers: []string{addr}, Topic: topic, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Publish(ctx, testEvent(t, "ann", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil { // Kafka took it: the forwarder has seen the topic
		t.Fatal(err)
	}
	stop() // Kafka is down
	// An event with no id, type or time is spooled as it is, and is a dead letter when sent.
	if err := s.Publish(ctx, engagement.Event{Source: "kudos/test"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().SendErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the undelivered dead letter was not retried as a failed write while the broker is down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	startDevBroker(t, addr) // a new, empty broker
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := readDeadLetters(t, addr, topic+deadLetterSuffix)
	if len(got) != 1 || !strings.Contains(got[0], `"source":"kudos/test"`) {
		t.Fatalf("dead-letter topic holds %q, want the event without id once", got)
	}
}
