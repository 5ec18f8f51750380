package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// kafkaResults: three kafka runs as scripts/bench.sh writes them, the middle one the median of each figure
// but the ratio, and a failed run that counts in no median.
const kafkaResults = `
{"set":"kafka","run":1,"scenario":"kafka","events":200000,"events_per_s":90000,"event_bytes":345,"compression":"none","events_per_commit":80,"events_per_batch":150,"bench_cpu_s":1.9,"kcat_events_per_s":300000,"kcat_cpu_s":0.3,"kcat_ratio":0.3,"load_before":"1.5 1 1"}
{"set":"kafka","run":2,"scenario":"kafka","events":200000,"events_per_s":120000,"event_bytes":345,"compression":"none","events_per_commit":90,"events_per_batch":200,"bench_cpu_s":1.7,"kcat_events_per_s":800000,"kcat_cpu_s":0.25,"kcat_ratio":0.15,"load_before":"0.5 1 1"}
{"set":"kafka","run":3,"scenario":"kafka","events":200000,"events_per_s":130000,"event_bytes":345,"compression":"none","events_per_commit":100,"events_per_batch":210,"bench_cpu_s":1.6,"kcat_events_per_s":600000,"kcat_cpu_s":0.28,"kcat_ratio":0.2167,"load_before":"0.7 1 1"}
{"set":"kafka","run":4,"scenario":"failed","viewers":0}
`

func TestKafkaTable(t *testing.T) {
	out := tablesOf(t, kafkaResults)
	wantInTables(t, out,
		"### Kafka, acks=all (200,000 events of 345 bytes, compression none)",
		"| sink events/s (durable spool, kafka-go) | 120,000 | 90,000 / 120,000 / 130,000 / failed | 1.5 / 0.5 / 0.7 / failed |",
		"| kcat events/s (librdkafka) | 600,000 | 300,000 / 800,000 / 600,000 / failed | |",
		"| sink ÷ kcat | 0.22 | 0.30 / 0.15 / 0.22 / failed | |",
		"| events per Kafka write | 200.0 |",
		"**Against issue 18:** 120,000 events/s through the spool (target ≥ 100,000: met); sink ÷ kcat 0.22 (target ≥ 0.5: not met).",
		"1 runs failed",
	)
	// No kafka runs, no kafka table.
	if out := tablesOf(t, ""); strings.Contains(out, "Kafka") {
		t.Errorf("a kafka table without kafka runs:\n%s", out)
	}
}

// TestKcatPayload: kcat's input is one key<TAB>value line per event, the value the event's JSON as the spool
// holds it and the key the sink's (the user), so that both sides send records of the same size.
func TestKcatPayload(t *testing.T) {
	cfg := Config{Posters: 3, Stream: "bench-s"}
	event := func(user string, seq int) (engagement.Event, error) {
		return engagement.NewEvent("kudos/bench", engagement.EventLikeSent, cfg.Stream, user, "A", time.Now(), map[string]int{"seq": seq})
	}
	p, err := makeKcatPayload(cfg, 7, event)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(p.lines), "\n"), "\n")
	if len(lines) != 7 || p.records != 7 {
		t.Fatalf("%d lines, %d records, want 7", len(lines), p.records)
	}
	var total int
	for i, line := range lines {
		key, value, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("line %d %q has no tab", i, line)
		}
		var e engagement.Event
		if err := json.Unmarshal([]byte(value), &e); err != nil {
			t.Fatalf("line %d value: %v", i, err)
		}
		if want := "bench-user-" + string(rune('0'+i%3)); key != want || e.UserID != want || e.Key() != key {
			t.Errorf("line %d key %q user %q, want %s", i, key, e.UserID, want)
		}
		if e.Source != "kudos/bench" || e.Type != engagement.EventLikeSent || e.Subject != "bench-s" {
			t.Errorf("line %d event %+v", i, e)
		}
		total += len(value)
	}
	if got, want := p.meanValue(), float64(total)/7; got != want || got < 200 {
		t.Errorf("mean value %.1f bytes, want %.1f", got, want)
	}
}
