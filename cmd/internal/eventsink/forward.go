package eventsink

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

// forward ships the spool to Kafka in order, one batch in flight at a time (which keeps per-key order),
// and moves the durable acknowledged position after each acknowledged batch. A failed batch is retried
// whole, with backoff, until it goes through or ctx ends.
func (s *Sink) forward(ctx context.Context, r *spoolReader) {
	defer close(s.fwdDone)
	defer r.closeFile()

	var (
		batch    []record
		msgs     []kafka.Message
		backoff  = backoffMin
		failing  bool
		topicOK  bool
		ackedSeg = r.pos.seg
	)
	for ctx.Err() == nil {
		if len(batch) == 0 {
			recs, err := r.read(s.committed.get(), batchSize, readBytes)
			if err != nil {
				s.log.Error("read event spool", "err", err)
				if !sleepCtx(ctx, backoffMax) {
					return
				}
				continue
			}
			if len(recs) == 0 {
				select {
				case <-s.committed.notify:
				case <-ctx.Done():
				}
				continue
			}
			batch = recs
			msgs = s.messages(msgs[:0], batch)
		}
		if !topicOK {
			topicOK = s.ensureTopic(ctx)
		}

		err := s.kw.WriteMessages(ctx, msgs...)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.sendErrors.Add(1)
			if !failing {
				s.log.Warn("Kafka write failed; events stay in the spool and are retried",
					"err", err, "bytes", s.pending.Load())
				failing = true
			} else {
				s.log.Debug("Kafka write failed again", "err", err)
			}
			topicOK = false
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, backoffMax)
			continue
		}
		if failing {
			s.log.Info("Kafka write succeeded again; draining the spool", "bytes", s.pending.Load())
			failing = false
		}
		backoff = backoffMin

		end := batch[len(batch)-1].end
		if err := writeAcked(s.cfg.Dir, end); err != nil {
			// The events are in Kafka; losing this position only means sending them again after a restart.
			s.log.Error("record Kafka-acknowledged spool position", "err", err)
		}
		var bytes int64
		for _, rec := range batch {
			bytes += int64(len(rec.line)) + 1
		}
		s.pending.Add(-bytes)
		s.sent.Add(uint64(len(batch)))
		if end.seg > ackedSeg {
			s.removeSegments(ackedSeg, end.seg)
			ackedSeg = end.seg
		}
		s.setAcked(end)
		s.checkFull()
		batch = nil
	}
}

// messages turns spool lines into Kafka messages keyed by Event.Key. A line that is not an event (disk
// corruption) is logged and sent unkeyed rather than dropped.
func (s *Sink) messages(dst []kafka.Message, batch []record) []kafka.Message {
	for _, rec := range batch {
		var k struct {
			UserID  string `json:"userid"`
			Subject string `json:"subject"`
		}
		var key []byte
		if err := json.Unmarshal(rec.line, &k); err != nil {
			s.log.Error("event spool line is not JSON; sending it unkeyed", "err", err, "line", string(rec.line))
		} else if k.UserID != "" {
			key = []byte(k.UserID)
		} else {
			key = []byte(k.Subject)
		}
		dst = append(dst, kafka.Message{Key: key, Value: rec.line})
	}
	return dst
}

// ensureTopic creates the topic with the broker's default partitions and replication if it is missing.
// It reports whether the topic exists; failures are left to the write (brokers may auto-create topics).
func (s *Sink) ensureTopic(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: s.kw.Addr, Transport: s.transport}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: s.cfg.Topic, NumPartitions: -1, ReplicationFactor: -1}},
	})
	if err == nil {
		err = resp.Errors[s.cfg.Topic]
	}
	if err == nil {
		s.log.Info("created Kafka topic")
		return true
	}
	if errors.Is(err, kafka.TopicAlreadyExists) {
		return true
	}
	s.log.Debug("create Kafka topic", "err", err)
	return false
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
