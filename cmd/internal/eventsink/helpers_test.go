package eventsink

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/kudos-live/kudos/engagement"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}

// kafkaBrokers returns the real test broker (see testenv.KafkaBrokers).
func kafkaBrokers(tb testing.TB) []string {
	tb.Helper()
	return testenv.KafkaBrokers(tb)
}

// testTopic is a fresh topic name per test, so tests never read each other's events.
func testTopic(tb testing.TB) string {
	tb.Helper()
	// Kafka topic names allow only ASCII letters, digits, '.', '_' and '-'.
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, tb.Name())
	return fmt.Sprintf("kudos.test.%s.%d", name, time.Now().UnixNano())
}

// startDevBroker starts a kfake broker on addr (a free one when empty) and stops it at cleanup.
func startDevBroker(tb testing.TB, addr string) (string, func()) {
	tb.Helper()
	if addr == "" {
		addr = testenv.FreeAddr(tb)
	}
	stop, err := StartDevBroker(context.Background(), addr, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return addr, stop
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testLogger logs through t at debug level.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// testEvent is event seq of user, with {"seq": seq} as data.
func testEvent(tb testing.TB, user string, seq int) engagement.Event {
	tb.Helper()
	e, err := engagement.NewEvent("kudos/test", engagement.EventLikeSent, "stream-1", user, "A",
		time.Now(), map[string]int{"seq": seq})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// consumed is one message read back from Kafka.
type consumed struct {
	partition int
	key       string
	event     engagement.Event
	seq       int
}

// consumeAll reads topic from the beginning of every partition until it has at least want distinct
// event ids, or fails after timeout. Messages come back in partition order.
func consumeAll(tb testing.TB, brokers []string, topic string, want int, timeout time.Duration) []consumed {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var partitions []kafka.Partition
	for ctx.Err() == nil {
		conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
		if err == nil {
			partitions, err = conn.ReadPartitions(topic)
			conn.Close()
		}
		if err == nil && len(partitions) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(partitions) == 0 {
		tb.Fatalf("topic %s has no partitions", topic)
	}

	// Each round reads every partition up to its current end offset, so no read waits for nothing.
	readers := make([]*kafka.Reader, len(partitions))
	next := make([]int64, len(partitions)) // next offset to read per partition
	for i, p := range partitions {
		readers[i] = kafka.NewReader(kafka.ReaderConfig{
			Brokers:   brokers,
			Topic:     topic,
			Partition: p.ID,
			MinBytes:  1,
			MaxBytes:  10 << 20,
			MaxWait:   100 * time.Millisecond,
		})
		defer readers[i].Close()
	}
	var out []consumed
	seen := map[string]bool{}
	for len(seen) < want {
		for i, p := range partitions {
			end := endOffset(ctx, tb, brokers[0], topic, p.ID)
			for next[i] < end {
				m, err := readers[i].ReadMessage(ctx)
				if err != nil {
					tb.Fatalf("read %s/%d (%d distinct of %d so far): %v", topic, p.ID, len(seen), want, err)
				}
				next[i] = m.Offset + 1
				var e engagement.Event
				if err := json.Unmarshal(m.Value, &e); err != nil {
					tb.Fatalf("message at %d/%d is not an event: %v: %s", m.Partition, m.Offset, err, m.Value)
				}
				var d struct{ Seq int }
				if err := json.Unmarshal(e.Data, &d); err != nil {
					tb.Fatalf("event data %s: %v", e.Data, err)
				}
				seen[e.ID] = true
				out = append(out, consumed{partition: m.Partition, key: string(m.Key), event: e, seq: d.Seq})
			}
		}
		if len(seen) >= want {
			break
		}
		if ctx.Err() != nil {
			tb.Fatalf("consumed %d distinct events of %d from %s before timeout", len(seen), want, topic)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// endOffset returns the offset after the last message of a partition. A partition of a topic just created
// may have no leader for a moment (Not Leader For Partition, Leader Not Available): those answers are
// retried for up to 15 s before the test fails.
func endOffset(ctx context.Context, tb testing.TB, broker, topic string, partition int) int64 {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		end, err := func() (int64, error) {
			conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, partition)
			if err != nil {
				return 0, fmt.Errorf("dial leader: %w", err)
			}
			defer conn.Close()
			return conn.ReadLastOffset()
		}()
		if err == nil {
			return end
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			tb.Fatalf("end offset of %s/%d: %v", topic, partition, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// distinctIDs returns the set of event ids in msgs.
func distinctIDs(msgs []consumed) map[string]int {
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.event.ID]++
	}
	return ids
}

// spoolWithLine writes a spool in dir holding one event (ann's) and then line, as written (a corrupt line
// for the dead-letter tests: line carries its own "\n").
func spoolWithLine(t *testing.T, dir, line string) {
	t.Helper()
	s, err := New(context.Background(), Config{Dir: dir, Logger: quietLogger()}) // spool only
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), testEvent(t, "ann", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil || len(segs) != 1 {
		t.Fatalf("spool segments %v (%v), want one", segs, err)
	}
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
