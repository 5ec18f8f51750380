package loyalty

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/kudos-live/kudos/engagement"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// kafkaBrokers returns the real test broker (see testenv.KafkaBrokers).
func kafkaBrokers(tb testing.TB) []string {
	tb.Helper()
	return testenv.KafkaBrokers(tb)
}

// testTopic creates a fresh topic with 3 partitions, so tests never read each other's events.
func testTopic(tb testing.TB, brokers []string) string {
	tb.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(tb.Name())
	topic := fmt.Sprintf("kudos.test.%s.%d", strings.ToLower(name), time.Now().UnixNano())
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second, Transport: tr}
	resp, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}},
	})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		tb.Fatalf("create topic %s: %v", topic, err)
	}
	return topic
}

// produce writes messages (values with their keys) to topic with acks from all replicas.
func produce(tb testing.TB, brokers []string, topic string, keys, values [][]byte) {
	tb.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond, Transport: tr,
	}
	msgs := make([]kafka.Message, len(values))
	for i := range values {
		msgs[i] = kafka.Message{Key: keys[i], Value: values[i]}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A new topic's leaders may need a moment; kafka-go retries, and so do we.
	var err error
	for ctx.Err() == nil {
		if err = w.WriteMessages(ctx, msgs...); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("produce %d messages to %s: %v", len(msgs), topic, err)
	}
}

// committedAndEnd returns the group's committed offsets and the end offsets of topic, per partition.
func committedAndEnd(tb testing.TB, brokers []string, topic, group string) (committed, end map[int]int64) {
	tb.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second, Transport: tr}
	ctx := context.Background()
	parts := []int{0, 1, 2}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2)},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	got, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		tb.Fatal(err)
	}
	committed, end = make(map[int]int64), make(map[int]int64)
	for _, p := range offs.Topics[topic] {
		end[p.Partition] = p.LastOffset
	}
	for _, p := range got.Topics[topic] {
		committed[p.Partition] = p.CommittedOffset
	}
	return committed, end
}

// catchUp runs a Consumer of group in CatchUp mode and returns its report.
func catchUp(t *testing.T, brokers []string, topic, group string) Report {
	t.Helper()
	agg := NewAggregatorIn(time.UTC)
	c, err := NewConsumer(Config{
		Brokers: brokers, Topic: topic, Group: group, FromBeginning: true, Logger: testLogger(t),
	}, agg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	err = c.CatchUp(ctx)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("catch up on %s: %v", topic, err)
	}
	t.Logf("caught up in %v", time.Since(start).Round(time.Millisecond))
	return agg.Report(time.Time{})
}

// TestConsumerCatchUp produces the synthetic set to a fresh topic, reads it with CatchUp, and checks the
// hand-worked numbers, that offsets were committed, and that the group then resumes where it stopped.
func TestConsumerCatchUp(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := testTopic(t, brokers)
	group := "loyalty-test-" + topic
	s := synthetic(t)
	produce(t, brokers, topic, s.keys, s.values)

	checkReport(t, catchUp(t, brokers, topic, group), wantSynthetic(len(s.valid)), synthSkips...)

	committed, end := committedAndEnd(t, brokers, topic, group)
	var total int64
	for p, e := range end {
		total += e
		if committed[p] != e {
			t.Errorf("partition %d: committed offset %d, end offset %d", p, committed[p], e)
		}
	}
	if total != int64(len(s.values)) {
		t.Errorf("topic holds %d messages, produced %d", total, len(s.values))
	}

	t.Run("second run reads nothing new", func(t *testing.T) {
		r := catchUp(t, brokers, topic, group)
		if r.Events != 0 || r.Duplicates != 0 || r.Invalid != 0 {
			t.Errorf("second run: %d events, %d duplicates, %d invalid; want none", r.Events, r.Duplicates, r.Invalid)
		}
	})

	t.Run("third run reads only what was produced since", func(t *testing.T) {
		e, err := engagement.NewEvent("kudos/test", engagement.EventPointsAwarded, "s9", "u99", "", synthAt(40, 0, 0),
			map[string]any{"key": "k", "source": "watch", "points": 7, "stream": "s9"})
		if err != nil {
			t.Fatal(err)
		}
		v := mustJSON(t, e)
		produce(t, brokers, topic, [][]byte{[]byte(e.Key())}, [][]byte{v})
		r := catchUp(t, brokers, topic, group)
		if r.Events != 1 || r.Points.Issued != 7 {
			t.Errorf("third run: %d events, %d points issued; want 1 event of 7 points", r.Events, r.Points.Issued)
		}
	})
}

// TestConsumerFollow reads in follow mode, reports on ticks, and commits what it folded when stopped.
func TestConsumerFollow(t *testing.T) {
	brokers := kafkaBrokers(t)
	topic := testTopic(t, brokers)
	group := "loyalty-test-" + topic
	var keys, values [][]byte
	for i := range 5 {
		e, err := engagement.NewEvent("kudos/test", engagement.EventLikeSent, "s1", fmt.Sprintf("u%d", i), "",
			synthAt(0, 12, i), map[string]any{"stream": "s1", "count": 1})
		if err != nil {
			t.Fatal(err)
		}
		keys, values = append(keys, []byte(e.Key())), append(values, mustJSON(t, e))
	}
	produce(t, brokers, topic, keys, values)

	agg := NewAggregatorIn(time.UTC)
	c, err := NewConsumer(Config{Brokers: brokers, Topic: topic, Group: group, FromBeginning: true, Logger: testLogger(t)}, agg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ticks := 0
	err = c.Follow(ctx, 100*time.Millisecond, func() {
		ticks++
		if agg.Report(time.Time{}).Events == len(values) {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := agg.Report(time.Time{}); r.Events != len(values) {
		t.Fatalf("followed %d events, want %d (ticks %d)", r.Events, len(values), ticks)
	}
	committed, end := committedAndEnd(t, brokers, topic, group)
	for p, e := range end {
		if committed[p] != e && !(e == 0 && committed[p] < 0) {
			t.Errorf("partition %d: committed offset %d, end offset %d", p, committed[p], e)
		}
	}
}

func mustJSON(tb testing.TB, e engagement.Event) []byte {
	tb.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testLogger logs through t.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
