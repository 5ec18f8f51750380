package eventsink

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/engagement"
)

// TestRecordsFollowTheCloudEventsKafkaBinding: every record is structured mode (content-type), carries
// ce_type and ce_id, is timed by the event's time and keyed by its user; a line that is not an event goes
// to the dead-letter topic with the reason, not unkeyed into the events.
func TestRecordsFollowTheCloudEventsKafkaBinding(t *testing.T) {
	s := &Sink{cfg: Config{Topic: "kudos.events"}, log: slog.New(slog.DiscardHandler)}
	at := time.Date(2026, 3, 1, 20, 0, 0, 123_000_000, time.UTC)
	ev, err := engagement.NewEvent("kudos/n1", engagement.EventPollVoted, "s1", "ann", "a", at, map[string]any{"stream": "s1", "poll_id": "p", "option": 0})
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msgs := s.messages(nil, []record{{line: line}, {line: []byte(`{"torn": `)}})
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m := msgs[0]
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{"content-type": "application/cloudevents+json; charset=UTF-8", "ce_type": ev.Type, "ce_id": ev.ID}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, headers[k], v)
		}
	}
	if m.Topic != "kudos.events" || string(m.Key) != "ann" || !m.Time.Equal(at) {
		t.Errorf("record topic %q key %q time %v, want kudos.events, ann, %v", m.Topic, m.Key, m.Time, at)
	}
	d := msgs[1]
	if d.Topic != "kudos.events.dlq" || len(d.Key) != 0 || len(d.Headers) != 1 || d.Headers[0].Key != "kudos_dlq_reason" || len(d.Headers[0].Value) == 0 {
		t.Errorf("corrupt line → topic %q key %q headers %v, want the dead-letter topic with a reason", d.Topic, d.Key, d.Headers)
	}
}

// TestPartitionsAreTheJavaClients: the writer's balancer puts a key in the partition the Java client's
// default partitioner does (murmur2), so a shop's Java topics keyed by user co-partition. The expected
// partitions were computed with kafka-clients 4.1.1's Utils.murmur2 (toPositive(murmur2(key)) % n).
func TestPartitionsAreTheJavaClients(t *testing.T) {
	tests := []struct {
		key        string
		partitions int
		want       int
	}{
		{"ann", 3, 2}, {"ann", 6, 2}, {"bob", 3, 0}, {"bob", 6, 0},
		{"u-42", 3, 1}, {"u-42", 6, 1}, {"spring-sale", 3, 2}, {"spring-sale", 6, 5},
	}
	for _, tt := range tests {
		ps := make([]int, tt.partitions)
		for i := range ps {
			ps[i] = i
		}
		if got := (kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(tt.key)}, ps...); got != tt.want {
			t.Errorf("%q over %d partitions → %d, want %d (Java)", tt.key, tt.partitions, got, tt.want)
		}
	}
	// The writer uses it.
	s, err := New(t.Context(), Config{Dir: t.TempDir(), Brokers: []string{"127.0.0.1:1"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.kw.Balancer.(kafka.Murmur2Balancer); !ok {
		t.Errorf("writer balancer %T, want kafka.Murmur2Balancer", s.kw.Balancer)
	}
}

// TestEventTimeToTheMillisecond: time is always written with milliseconds, whatever its precision.
func TestEventTimeToTheMillisecond(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 20, 0, 0, 123_456_789, time.FixedZone("CST", 8*3600)),
	} {
		ev, err := engagement.NewEvent("kudos/n1", engagement.EventLikeSent, "s1", "ann", "", at, map[string]any{"stream": "s1", "count": 1})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Time string }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if want := at.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z"); got.Time != want {
			t.Errorf("time %q, want %q", got.Time, want)
		}
	}
}

// TestCorruptLineGoesToTheDeadLetterTopic: a spool line that is not an event (disk corruption between two
// events) reaches <topic>.dlq with its reason, created by the sink (no broker auto-creation needed), and
// the events on both sides of it reach the topic: it never blocks them.
func TestCorruptLineGoesToTheDeadLetterTopic(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := testTopic(t)
	dir := t.TempDir()
	spoolWithLine(t, dir, "{\"not\": \"an event\"}\n")
	s, err := New(context.Background(), Config{Dir: dir, Brokers: brokers, Topic: topic, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(context.Background(), testEvent(t, "bob", 2)); err != nil {
		t.Fatal(err)
	}
	if got := consumeAll(t, brokers, topic, 2, 30*time.Second); len(got) != 2 {
		t.Fatalf("%d events in the topic, want the 2 around the corrupt line", len(got))
	}
	// The dead letter has no key: look in every partition of the (new) topic until it shows up; a partition
	// just created may not have a leader yet, so errors are retried until the deadline.
	dlq := topic + ".dlq"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var m kafka.Message
	for found := false; !found; {
		if ctx.Err() != nil {
			t.Fatal("the dead letter never reached the dead-letter topic")
		}
		conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
		var parts []kafka.Partition
		if err == nil {
			parts, _ = conn.ReadPartitions(dlq)
			conn.Close()
		}
		for _, p := range parts {
			lc, err := kafka.DialLeader(ctx, "tcp", brokers[0], dlq, p.ID)
			if err != nil {
				continue
			}
			last, err := lc.ReadLastOffset()
			lc.Close()
			if err != nil || last == 0 {
				continue
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: dlq, Partition: p.ID, MaxWait: 100 * time.Millisecond})
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			m, err = r.ReadMessage(rctx)
			rcancel()
			r.Close()
			if err == nil {
				found = true
				break
			}
		}
		if !found {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if string(m.Value) != `{"not": "an event"}` || len(m.Headers) != 1 || m.Headers[0].Key != "kudos_dlq_reason" {
		t.Fatalf("dead letter %q with headers %v, want the line and its reason", m.Value, m.Headers)
	}
}
