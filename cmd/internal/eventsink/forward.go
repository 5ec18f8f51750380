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

// The CloudEvents Kafka protocol binding, structured mode: the record's value is the event as JSON, its
// content-type header says so (a consumer that finds none would read the record as binary mode), and the
// ce_type and ce_id headers let consumers filter without parsing the value.
const (
	contentType      = "application/cloudevents+json; charset=UTF-8"
	headerType       = "ce_type"
	headerID         = "ce_id"
	headerDLQReason  = "kudos_dlq_reason"
	deadLetterSuffix = ".dlq"
)

// messages turns spool lines into Kafka records: keyed by Event.Key (the user, else the stream), timed by
// the event's time (so a drained backlog keeps its times), with the binding's headers. A line that is not an
// event (disk corruption) goes to the dead-letter topic (<topic>.dlq) with the reason in a header, never
// unkeyed into the events.
func (s *Sink) messages(dst []kafka.Message, batch []record) []kafka.Message {
	for _, rec := range batch {
		var e struct {
			ID      string    `json:"id"`
			Type    string    `json:"type"`
			Time    time.Time `json:"time"`
			UserID  string    `json:"userid"`
			Subject string    `json:"subject"`
		}
		err := json.Unmarshal(rec.line, &e)
		if err == nil && (e.ID == "" || e.Type == "" || e.Time.IsZero()) {
			err = errors.New("not a CloudEvent: id, type or time missing")
		}
		if err != nil {
			s.log.Error("event spool line is not an event; sending it to the dead-letter topic", "err", err, "topic", s.cfg.Topic+deadLetterSuffix)
			dst = append(dst, kafka.Message{Topic: s.cfg.Topic + deadLetterSuffix, Value: rec.line, Headers: []kafka.Header{
				{Key: headerDLQReason, Value: []byte(err.Error())},
			}})
			continue
		}
		key := e.UserID
		if key == "" {
			key = e.Subject
		}
		dst = append(dst, kafka.Message{Topic: s.cfg.Topic, Key: []byte(key), Value: rec.line, Time: e.Time, Headers: []kafka.Header{
			{Key: "content-type", Value: []byte(contentType)},
			{Key: headerType, Value: []byte(e.Type)},
			{Key: headerID, Value: []byte(e.ID)},
		}})
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
