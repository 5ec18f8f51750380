package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
				interval: 10 * time.Second, logLevel: "info", signals: "kudos.signals", highFen: 100000,
			},
		},
		{
			name: "environment",
			env:  map[string]string{"KUDOS_KAFKA_BROKERS": "a:1, b:2", "KUDOS_KAFKA_TOPIC": "t", "KUDOS_LOG_LEVEL": "debug", "KUDOS_TIME_ZONE": "UTC"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"a:1", "b:2"}, Topic: "t", Group: "kudos-loyalty"},
				interval: 10 * time.Second, logLevel: "debug", signals: "kudos.signals", highFen: 100000,
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
				now: time.Date(2024, 4, 9, 11, 0, 0, 0, time.UTC), logLevel: "info", signals: "kudos.signals", highFen: 100000,
			},
		},
		{
			name: "interval as a duration",
			args: []string{"--interval", "1m30s"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "kudos.events", Group: "kudos-loyalty"},
				interval: 90 * time.Second, logLevel: "info", signals: "kudos.signals", highFen: 100000,
			},
		},
		{
			name: "report file, no signals, high value from ¥499.99",
			args: []string{"-html", "r.html", "-signals-topic", "none", "-high-value", "499.99"},
			want: options{
				consumer: loyalty.Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "kudos.events", Group: "kudos-loyalty"},
				interval: 10 * time.Second, logLevel: "info", html: "r.html", highFen: 49999,
			},
		},
		{name: "high value not positive", args: []string{"-high-value", "0"}, wantErr: "-high-value"},
		{name: "signals into the events topic", args: []string{"-signals-topic", "kudos.events"}, wantErr: "is the events topic"},
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

// TestHelpDefinesEveryFigure: -h states every rule of the report.
func TestHelpDefinesEveryFigure(t *testing.T) {
	var help bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, d := range loyalty.Definitions {
		if !strings.Contains(help.String(), d.Rule) {
			t.Errorf("the help text lacks the %s rule", d.Name)
		}
	}
	for _, f := range []string{"-html FILE", "-signals-topic", "-high-value yuan", "-tz"} {
		if !strings.Contains(help.String(), f) {
			t.Errorf("the help text lacks %s", f)
		}
	}
}

// TestSignalsAndReportFromCommand runs the command twice, each time as a new group from the beginning, on
// a fresh topic where u1 was last active 20 days before the newest event: both runs publish u1's churn
// warning with one id to a fresh signals topic, and write the HTML report.
func TestSignalsAndReportFromCommand(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := fmt.Sprintf("kudos.test.loyalty-signals.%d", time.Now().UnixNano())
	signals := topic + ".signals"
	day0 := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC) // 12:00 Beijing, Monday
	var msgs []kafka.Message
	for _, j := range []struct {
		user string
		day  int
	}{{"u1", 0}, {"u2", 0}, {"u2", 20}} {
		e, err := engagement.NewEvent("kudos/test", engagement.EventViewerJoined, "s1", j.user, "a", day0.AddDate(0, 0, j.day),
			map[string]any{"stream": "s1", "role": "viewer"})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := json.Marshal(e)
		msgs = append(msgs, kafka.Message{Key: []byte(e.Key()), Value: v})
	}
	produce(t, brokers, topic, msgs)

	report := filepath.Join(t.TempDir(), "report.html")
	for i := range 2 {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		err := run(ctx, []string{"--once", "--from-beginning", "--topic", topic, "--group", fmt.Sprintf("g%d-%s", i, topic),
			"--signals-topic", signals, "--html", report}, env(map[string]string{"KUDOS_KAFKA_BROKERS": strings.Join(brokers, ",")}), &out, &errOut)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, errOut.String())
		}
		if !strings.Contains(out.String(), "churn warnings: 1 users") {
			t.Errorf("run %d printed:\n%s", i+1, out.String())
		}
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<svg id="retention-chart"`) || !strings.Contains(string(page), "流失预警 Churn warnings (1)") {
		t.Errorf("the report file is not the report: %.300s", page)
	}

	reader := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: signals, GroupID: "read-" + signals,
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer reader.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []string
	for range 2 {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", signals, err)
		}
		var e engagement.Event
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != engagement.EventChurnWarning || e.UserID != "u1" || string(m.Key) != "u1" {
			t.Errorf("record %s: %s for %s", m.Key, e.Type, e.UserID)
		}
		ids = append(ids, e.ID)
	}
	// Day 20 is Sunday 2026-03-22, in ISO week 12, which began Monday 2026-03-16 00:00 Beijing.
	want := engagement.DerivedEventID(time.Date(2026, 3, 15, 16, 0, 0, 0, time.UTC), "churn-warning:u1:2026-W12")
	if ids[0] != want || ids[1] != want {
		t.Errorf("ids %v, want %s twice", ids, want)
	}
}

// produce writes msgs to topic, waiting for a new topic's leader.
func produce(t *testing.T, brokers []string, topic string, msgs []kafka.Message) {
	t.Helper()
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
		time.Sleep(200 * time.Millisecond)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// TestOnceAgainstKafka runs the command with --once --json on a fresh topic, twice in the same group.
func TestOnceAgainstKafka(t *testing.T) {
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	topic := fmt.Sprintf("kudos.test.loyalty-cmd.%d", time.Now().UnixNano())
	produceLikes(t, strings.Split(brokers, ","), topic)

	args := []string{"--once", "--json", "--from-beginning", "--topic", topic, "--group", "g-" + topic, "--signals-topic", "none"}
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
