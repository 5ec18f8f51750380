package eventsink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/internal/testenv"
)

func secureSettings(k testenv.KafkaSecure) kafkasec.Settings {
	return kafkasec.Settings{TLS: true, CAFile: k.CA, CertFile: k.Cert, KeyFile: k.Key,
		SASLMechanism: kafkasec.MechanismSCRAMSHA512, SASLUsername: k.User, SASLPassword: k.Password}
}

// TestSecureSinkDeliversEventsAndDeadLetters: a sink given only the broker's SASL_SSL listener creates its
// topics, sends its events and its dead letters through it (one security for every connection); they are
// read back through the same broker's plaintext listener.
func TestSecureSinkDeliversEventsAndDeadLetters(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	plain := kafkaBrokers(t)
	sec, err := kafkasec.New(secureSettings(k))
	if err != nil {
		t.Fatal(err)
	}
	topic := testTopic(t)
	dir := t.TempDir()
	spoolWithLine(t, dir, "not json\n")

	s, err := New(context.Background(), Config{Dir: dir, Brokers: k.Brokers, Topic: topic, Logger: quietLogger(), Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(context.Background(), testEvent(t, "bob", 2)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush over TLS and SCRAM: %v", err)
	}
	if got := consumeAll(t, plain, topic, 2, 30*time.Second); len(got) != 2 {
		t.Fatalf("%d events in the topic, want 2", len(got))
	}
	// The dead letter went first (writeDead), so once the events are acknowledged it is in <topic>.dlq.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(plain...), Transport: tr}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic + ".dlq"}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("dead-letter topic metadata: %v %+v", err, meta)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[topic+".dlq"] = append(req.Topics[topic+".dlq"], kafka.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var dead int64
	for _, p := range offs.Topics[topic+".dlq"] {
		if p.Error != nil {
			t.Fatal(p.Error)
		}
		dead += p.LastOffset
	}
	if dead != 1 {
		t.Fatalf("%d records in the dead-letter topic, want the one bad line", dead)
	}
}

// TestRejectedSecurityStopsNew: a wrong password fails New with kafkasec.ErrRejected before the spool is
// opened (the directory is not left locked), instead of retrying a broker that will never accept.
func TestRejectedSecurityStopsNew(t *testing.T) {
	k := testenv.KafkaSecureListener(t)
	bad := secureSettings(k)
	bad.SASLPassword += "-wrong"
	sec, err := kafkasec.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := New(context.Background(), Config{Dir: dir, Brokers: k.Brokers, Logger: quietLogger(), Security: sec})
	if !errors.Is(err, kafkasec.ErrRejected) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("New with a wrong password: %v; want ErrRejected", err)
	}
	s, err = New(context.Background(), Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("the refused New left the spool unusable: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
