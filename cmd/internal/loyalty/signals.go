package loyalty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/engagement"
	"github.com/segmentio/kafka-go"
)

// DefaultSignalsTopic is the topic the churn warnings go to.
const DefaultSignalsTopic = "kudos.signals"

// SignalSource is the CloudEvents source of the consumer's signals.
const SignalSource = "kudos/loyalty"

// The CloudEvents Kafka binding, structured mode, as the server writes its records (eventsink): the value
// is the event as JSON, content-type says so, ce_type and ce_id allow filtering on headers alone.
const (
	signalContentType = "application/cloudevents+json; charset=UTF-8"
	headerType        = "ce_type"
	headerID          = "ce_id"
)

// churnWarningData is the data of a kudos.churn.warning event (docs/events.md).
type churnWarningData struct {
	Week         string `json:"week"`
	Segment      string `json:"segment"`
	LastActive   string `json:"last_active"`
	DaysInactive int    `json:"days_inactive"`
	GMV90dFen    int64  `json:"gmv_90d_fen"`
}

// ChurnWarningEvent is w as a kudos.churn.warning event. Its time is the start of the ISO week (Monday 00:00
// in the business time zone) and its id is derived from the user and the week, so every run that warns the
// same user in the same week publishes the same id: consumers that dedupe by id see one warning a week.
func ChurnWarningEvent(w ChurnWarning) (engagement.Event, error) {
	if w.User == "" || w.Week == "" || w.weekStart.IsZero() {
		return engagement.Event{}, errors.New("churn warning without user or week")
	}
	e, err := engagement.NewEvent(SignalSource, engagement.EventChurnWarning, "", w.User, w.Arm, w.weekStart,
		churnWarningData{Week: w.Week, Segment: w.Segment, LastActive: w.LastActive, DaysInactive: w.DaysInactive, GMV90dFen: w.GMV90dFen})
	if err != nil {
		return engagement.Event{}, err
	}
	e.ID = engagement.DerivedEventID(w.weekStart, "churn-warning:"+w.User+":"+w.Week)
	return e, nil
}

// SignalMessages returns the Kafka records of the report's churn warnings on topic: keyed by user, timed by
// the event, with the binding's headers.
func SignalMessages(topic string, r Report) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, 0, len(r.ChurnWarnings))
	for _, w := range r.ChurnWarnings {
		e, err := ChurnWarningEvent(w)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(e.Key()), Value: value, Time: e.Time, Headers: []kafka.Header{
			{Key: "content-type", Value: []byte(signalContentType)},
			{Key: headerType, Value: []byte(e.Type)},
			{Key: headerID, Value: []byte(e.ID)},
		}})
	}
	return msgs, nil
}

// SignalWriter publishes the churn warnings of a report to the signals topic. It remembers the ids it has
// written, so the reports of one run (follow mode) publish each warning once; another run publishes them
// again, with the same ids.
type SignalWriter struct {
	topic     string
	w         *kafka.Writer
	transport *kafka.Transport
	sent      map[string]bool
}

// NewSignalWriter returns a writer to topic (DefaultSignalsTopic when empty) on brokers; sec may be nil
// (plaintext).
func NewSignalWriter(brokers []string, topic string, sec *kafkasec.Security) *SignalWriter {
	if topic == "" {
		topic = DefaultSignalsTopic
	}
	transport := sec.Transport(&kafka.Transport{})
	return &SignalWriter{topic: topic, transport: transport, sent: map[string]bool{}, w: &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               kafka.Murmur2Balancer{}, // as the server's: one user, one partition
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           10 * time.Millisecond,
		AllowAutoTopicCreation: true,
		Transport:              transport,
	}}
}

// Publish writes the report's churn warnings that this writer has not written yet, and returns how many it
// wrote.
func (s *SignalWriter) Publish(ctx context.Context, r Report) (int, error) {
	all, err := SignalMessages(s.topic, r)
	if err != nil {
		return 0, err
	}
	var msgs []kafka.Message
	for _, m := range all {
		if id := headerValue(m, headerID); !s.sent[id] {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	// A topic the writer creates needs a moment for its leader: retry those errors for a while.
	for deadline := time.Now().Add(positionsRetry); ; {
		err = s.w.WriteMessages(ctx, msgs...)
		if err == nil || !temporary(err) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return 0, fmt.Errorf("publish %d churn warnings to %s: %w", len(msgs), s.topic, err)
	}
	for _, m := range msgs {
		s.sent[headerValue(m, headerID)] = true
	}
	return len(msgs), nil
}

func headerValue(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Close flushes and closes the writer.
func (s *SignalWriter) Close() error {
	err := s.w.Close()
	s.transport.CloseIdleConnections()
	return err
}
