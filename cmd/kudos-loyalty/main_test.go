package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/kudos-live/kudos/cmd/internal/loyalty"
	"github.com/kudos-live/kudos/engagement"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr string
	}{
		{
			name: "defaults",
			want: options{
				consumer: loyalty.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "kudos.events", Group: "kudos-loyalty"},
				interval: 10 * time.Second, logLevel: "info",
			},
		},
		{
			name: "environment",
			env:  map[string]string{"KUDOS_KAFKA_BROKERS": "a:1, b:2", "KUDOS_KAFKA_TOPIC": "t", "KUDOS_LOG_LEVEL": "debug", "KUDOS_TIME_ZONE": "UTC"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"a:1", "b:2"}, Topic: "t", Group: "kudos-loyalty"},
				interval: 10 * time.Second, logLevel: "debug",
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--brokers", "c:3", "--topic", "x", "--group", "g", "--from-beginning", "--once",
				"--json", "--interval", "30", "--now", "2024-04-09T11:00:00Z"},
			env: map[string]string{"KUDOS_KAFKA_BROKERS": "a:1"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"c:3"}, Topic: "x", Group: "g", FromBeginning: true},
				once:     true, json: true, interval: 30 * time.Second,
				now: time.Date(2024, 4, 9, 11, 0, 0, 0, time.UTC), logLevel: "info",
			},
		},
		{
			name: "interval as a duration",
			args: []string{"--interval", "1m30s"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "kudos.events", Group: "kudos-loyalty"},
				interval: 90 * time.Second, logLevel: "info",
			},
		},
		{name: "zero interval", args: []string{"--interval", "0"}, wantErr: "positive"},
		{name: "bad now", args: []string{"--now", "yesterday"}, wantErr: "now"},
		{name: "no brokers", args: []string{"--brokers", " , "}, wantErr: "no Kafka brokers"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "bad time zone", args: []string{"-tz", "Mars/Olympus"}, wantErr: "not a time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantTZ := "Asia/Shanghai" // the default: the server's KUDOS_TIME_ZONE default
			if tz := tt.env["KUDOS_TIME_ZONE"]; tz != "" {
				wantTZ = tz
			}
			if got.loc == nil || got.loc.String() != wantTZ {
				t.Errorf("time zone %v, want %s", got.loc, wantTZ)
			}
			got.loc = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestOnceAgainstKafka runs the command with --once --json on a fresh topic, twice in the same group.
func TestOnceAgainstKafka(t *testing.T) {
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	topic := fmt.Sprintf("kudos.test.loyalty-cmd.%d", time.Now().UnixNano())
	produceLikes(t, strings.Split(brokers, ","), topic)

	args := []string{"--once", "--json", "--from-beginning", "--topic", topic, "--group", "g-" + topic}
	for i, want := range []int{5, 0} {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		err := run(ctx, args, env(map[string]string{"KUDOS_KAFKA_BROKERS": brokers}), &out, &errOut)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, errOut.String())
		}
		var r loyalty.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("run %d printed %q: %v", i+1, out.String(), err)
		}
		if r.Events != want {
			t.Errorf("run %d read %d events, want %d", i+1, r.Events, want)
		}
		if i == 0 && (r.Overall.Viewers != 3 || r.Overall.Participants != 2) {
			t.Errorf("run 1: %d viewers, %d participants; want 3, 2", r.Overall.Viewers, r.Overall.Participants)
		}
	}
}

// produceLikes writes 5 events to topic: u1 and u2 join stream s1 and like, u3 only joins.
func produceLikes(t *testing.T, brokers []string, topic string) {
	t.Helper()
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	add := func(typ, user string, data map[string]any) {
		e, err := engagement.NewEvent("kudos/test", typ, "s1", user, "", at, data)
		if err != nil {
			t.Fatal(err)
		}
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.Key()), Value: v})
	}
	add(engagement.EventViewerJoined, "u1", map[string]any{"stream": "s1", "role": "viewer"})
	add(engagement.EventLikeSent, "u1", map[string]any{"stream": "s1", "count": 2})
	add(engagement.EventViewerJoined, "u2", map[string]any{"stream": "s1", "role": "viewer"})
	add(engagement.EventLikeSent, "u2", map[string]any{"stream": "s1", "count": 1})
	add(engagement.EventViewerJoined, "u3", map[string]any{"stream": "s1", "role": "viewer"})

	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond, AllowAutoTopicCreation: true, Transport: tr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = w.WriteMessages(ctx, msgs...); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // a new topic needs a leader first
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}
