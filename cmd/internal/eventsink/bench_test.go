package eventsink

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSpoolPublish measures Publish of one event at a time from parallel callers into a spool with no
// forwarder: JSON encoding, group commit and fsync.
func BenchmarkSpoolPublish(b *testing.B) {
	s, err := New(context.Background(), Config{Dir: b.TempDir(), MaxBytes: 8 << 30, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(8) // many viewers' interactions at once, as on a live stream
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprintf("user-%d", n.Add(1))
		for i := 0; pb.Next(); i++ {
			if err := s.Publish(context.Background(), testEvent(b, user, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(s.commits.Load(), 1)), "events/fsync")
}

// BenchmarkSinkToKafka measures events from Publish until Kafka acknowledged them (acks=all), on the broker
// of KUDOS_TEST_KAFKA_BROKERS.
func BenchmarkSinkToKafka(b *testing.B) {
	brokers := kafkaBrokers(b)
	s, err := New(context.Background(), Config{Dir: b.TempDir(), Brokers: brokers, Topic: testTopic(b), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// Create the topic before timing.
	ctx := context.Background()
	if err := s.Publish(ctx, testEvent(b, "warmup", 0)); err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprintf("user-%d", n.Add(1))
		for i := 0; pb.Next(); i++ {
			if err := s.Publish(ctx, testEvent(b, user, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
