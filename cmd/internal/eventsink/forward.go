package eventsink

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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
		dead     []kafka.Message // the batch's dead letters not yet delivered
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
			// Dead letters go first; if that fails they are tried again once Kafka takes the events (below).
			msgs, dead = splitDead(msgs)
			if len(dead) > 0 && s.writeDead(ctx, dead) == nil {
				dead = nil
			}
		}
		if !topicOK {
			topicOK = s.ensureTopic(ctx)
		}

		var err error
		if len(msgs) > 0 {
			start := time.Now()
			err = s.write(ctx, msgs)
			if ctx.Err() == nil {
				s.metrics.observeProduce(time.Since(start), err)
			}
		}
		if err == nil && len(dead) > 0 {
			// Their first try failed (Kafka unreachable, say). Before the batch is acknowledged, and its lines
			// with it, try again: when Kafka answers (it just took the events or, with none, the events topic is
			// there) and the dead letters still fail, it is the dead-letter topic that fails, and they are
			// logged and dropped rather than hold the events back; otherwise the batch is retried.
			derr := s.writeDead(ctx, dead)
			switch {
			case derr == nil:
			case ctx.Err() != nil:
				return // not acknowledged: sent again after a restart
			case len(msgs) > 0 || s.ensureTopic(ctx):
				for _, m := range dead {
					s.log.Error("dead letter not delivered; dropped", "topic", m.Topic, "err", derr, "line", string(m.Value))
				}
				s.deadDropped.Add(uint64(len(dead)))
			default:
				err = derr
			}
			if err == nil {
				dead = nil
			}
		}
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
		s.pendingEvents.Add(-int64(len(batch)))
		s.sent.Add(uint64(len(batch)))
		s.batches.Add(1)
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
	// The three headers of every record of the batch, in one allocation.
	headers := make([]kafka.Header, 0, 3*len(batch))
	for _, rec := range batch {
		if m, ok := s.metas.take(rec.end); ok && m.ok && m.size == len(rec.line)+1 {
			// A line this process wrote: its fields were kept at Publish.
			headers = append(headers,
				kafka.Header{Key: "content-type", Value: contentTypeBytes},
				kafka.Header{Key: headerType, Value: m.typ()},
				kafka.Header{Key: headerID, Value: m.id()})
			dst = append(dst, kafka.Message{Topic: s.cfg.Topic, Key: m.key(), Value: rec.line, Time: m.time,
				Headers: headers[len(headers)-3 : len(headers) : len(headers)]})
			continue
		}
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
		var key []byte // none for an event of no user and no stream: spread, not all in one partition
		switch {
		case e.UserID != "":
			key = []byte(e.UserID)
		case e.Subject != "":
			key = []byte(e.Subject)
		}
		dst = append(dst, kafka.Message{Topic: s.cfg.Topic, Key: key, Value: rec.line, Time: e.Time, Headers: []kafka.Header{
			{Key: "content-type", Value: []byte(contentType)},
			{Key: headerType, Value: []byte(e.Type)},
			{Key: headerID, Value: []byte(e.ID)},
		}})
	}
	return dst
}

// write sends msgs as one kafka-go batch per partition, and returns when Kafka has acknowledged them all.
// Only the forwarder's goroutine writes, one call at a time.
//
// The batch size is set to this call's record count before each call: never smaller, so that a partition's
// records of one call go in one produce request (two, retried on their own, could land out of order), and
// no larger, since kafka-go allocates room for BatchSize records per partition and batch (BatchSize 1000
// made ~150 KB of garbage per partition and call, whatever the call's size). kafka-go reads BatchSize only
// in WriteMessages, on this goroutine; the 1 µs BatchTimeout sends each batch as soon as the call has
// filled it.
func (s *Sink) write(ctx context.Context, msgs []kafka.Message) error {
	s.kw.BatchSize = max(len(msgs), 1)
	return s.kw.WriteMessages(ctx, msgs...)
}

// splitDead moves the dead-letter records out of msgs (keeping the order of the rest).
func splitDead(msgs []kafka.Message) (live, dead []kafka.Message) {
	live = msgs[:0]
	for _, m := range msgs {
		if strings.HasSuffix(m.Topic, deadLetterSuffix) {
			dead = append(dead, m)
		} else {
			live = append(live, m)
		}
	}
	return live, dead
}

// writeDead sends dead letters once, creating their topic first (a broker may not auto-create topics). The
// forwarder tries them again when this fails (see forward); a corrupt line must never stop the events behind
// it for long.
func (s *Sink) writeDead(ctx context.Context, dead []kafka.Message) error {
	topic := s.cfg.Topic + deadLetterSuffix
	s.createTopics(ctx, topic)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.write(wctx, dead)
	if err != nil {
		s.log.Warn("dead letters not delivered yet", "topic", topic, "count", len(dead), "err", err)
	}
	return err
}

// createTopics creates topics with the broker's default partitions and replication, and returns the
// per-topic errors (nil for one created); err is the request's own failure.
func (s *Sink) createTopics(ctx context.Context, topics ...string) (map[string]error, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: s.kw.Addr, Transport: s.transport}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: -1, ReplicationFactor: -1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Errors, nil
}

// ensureTopic creates the events topic (and its dead-letter topic) with the broker's default partitions and
// replication if missing. It reports whether the events topic exists; failures are left to the write
// (brokers may auto-create topics).
func (s *Sink) ensureTopic(ctx context.Context) bool {
	errs, err := s.createTopics(ctx, s.cfg.Topic, s.cfg.Topic+deadLetterSuffix)
	if err == nil {
		err = errs[s.cfg.Topic]
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
