package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/internal/testenv"
)

func TestParseRetention(t *testing.T) {
	day := int64(24 * time.Hour / time.Millisecond)
	for in, want := range map[string]int64{"7d": 7 * day, "1d": day, "168h": 7 * day, "90m": 90 * 60 * 1000, "forever": -1, "-1": -1} {
		got, err := parseRetention(in)
		if err != nil || got != want {
			t.Errorf("parseRetention(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-3d", "1.5d", "week", "30s", "7"} {
		if got, err := parseRetention(in); err == nil {
			t.Errorf("parseRetention(%q) = %d, want an error", in, got)
		}
	}
}

// TestTopicsCreateRefuses: bad settings are refused before any broker is asked (the brokers here do not
// exist, so a request would fail differently).
func TestTopicsCreateRefuses(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"topics"}, env(), "usage: kudos topics create"},
		{[]string{"topics", "delete"}, env(), "usage: kudos topics create"},
		{[]string{"topics", "create"}, env(), "no brokers"},
		{[]string{"topics", "create"}, env("KUDOS_KAFKA_BROKERS", "none"), "no brokers"},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1", "--partitions", "0"}, env(), "--partitions 0"},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1", "--replication-factor", "0"}, env(), "--replication-factor 0"},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1", "--replication-factor", "2", "--min-insync-replicas", "3"}, env(), "--min-insync-replicas 3"},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1", "--retention", "soon"}, env(), `--retention "soon"`},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1", "extra"}, env(), `unexpected argument "extra"`},
		{[]string{"topics", "create", "--brokers", "127.0.0.1:1"}, env("KUDOS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"), "KUDOS_KAFKA_SASL_USERNAME"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), c.args, c.env, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("kudos %s: err = %v, want one saying %q", strings.Join(c.args, " "), err, c.want)
		}
		if out.Len() > 0 {
			t.Errorf("kudos %s wrote %q", strings.Join(c.args, " "), out.String())
		}
	}
}

// topicState is what the broker says of a topic: partitions, replication factor and the configs the
// command sets.
type topicState struct {
	partitions, replication int
	configs                 map[string]string
}

func describeTopic(t *testing.T, client *kafka.Client, name string) topicState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var st topicState
	// A topic just created may take a moment to show its partitions in the metadata.
	for st.partitions == 0 {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range meta.Topics {
			if tp.Name == name && tp.Error == nil {
				st.partitions = len(tp.Partitions)
				if len(tp.Partitions) > 0 {
					st.replication = len(tp.Partitions[0].Replicas)
				}
			}
		}
		if st.partitions == 0 {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: no partitions in the metadata", name)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	dc, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: name,
		ConfigNames: []string{"cleanup.policy", "retention.ms", "min.insync.replicas", "message.timestamp.type"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	st.configs = map[string]string{}
	for _, r := range dc.Resources {
		for _, e := range r.ConfigEntries {
			st.configs[e.ConfigName] = e.ConfigValue
		}
	}
	return st
}

// TestTopicsCreateOnRealBroker creates the events topic and its dead-letter topic on the real broker, checks
// what the broker then holds, and runs the command again: an existing topic is reported (exit 0), with a
// warning for each setting that differs, and left as it is.
func TestTopicsCreateOnRealBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := "kudos.topics." + randomID("")
	ctx := context.Background()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 20 * time.Second}
	kudos := func(getenv func(string) string, args ...string) (string, string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"topics", "create"}, args...), getenv, &out, &errb)
		return out.String(), errb.String(), err
	}
	noEnv := func(string) string { return "" }
	// Brokers and topic from the server's own variables, the rest from flags.
	serverEnv := func(k string) string {
		switch k {
		case "KUDOS_KAFKA_BROKERS":
			return strings.Join(brokers, ",")
		case "KUDOS_KAFKA_TOPIC":
			return topic
		}
		return ""
	}
	out, errs, err := kudos(serverEnv, "--partitions", "3", "--replication-factor", "1", "--retention", "2d")
	if err != nil {
		t.Fatalf("create: %v\n%s%s", err, out, errs)
	}
	for _, name := range []string{topic, topic + ".dlq"} {
		if !strings.Contains(out, "created topic "+name+":") {
			t.Errorf("create: output does not report %s created:\n%s", name, out)
		}
	}
	if errs != "" {
		t.Errorf("create: warnings on a new topic: %s", errs)
	}
	want := map[string]string{
		"cleanup.policy":         "delete",
		"retention.ms":           strconv.Itoa(2 * 24 * 3600 * 1000),
		"min.insync.replicas":    "1", // the default 2 is capped by the replication factor
		"message.timestamp.type": "CreateTime",
	}
	for name, partitions := range map[string]int{topic: 3, topic + ".dlq": 1} {
		st := describeTopic(t, client, name)
		if st.partitions != partitions || st.replication != 1 {
			t.Errorf("%s: %d partitions, replication %d; want %d, 1", name, st.partitions, st.replication, partitions)
		}
		for k, v := range want {
			if st.configs[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, st.configs[k], v)
			}
		}
	}

	// Again with the same settings: both exist, nothing to warn about.
	out, errs, err = kudos(noEnv, "--brokers", strings.Join(brokers, ","), "--topic", topic, "--partitions", "3", "--replication-factor", "1", "--retention", "48h")
	if err != nil {
		t.Fatalf("second create: %v\n%s%s", err, out, errs)
	}
	for _, name := range []string{topic, topic + ".dlq"} {
		if !strings.Contains(out, "topic "+name+" already exists with these settings") {
			t.Errorf("second create: output does not say %s exists:\n%s", name, out)
		}
	}
	if errs != "" {
		t.Errorf("second create: unexpected warnings: %s", errs)
	}

	// Again with other settings: exit 0, a warning per difference, the topic unchanged.
	out, errs, err = kudos(noEnv, "--brokers", strings.Join(brokers, ","), "--topic", topic, "--partitions", "6", "--replication-factor", "1", "--retention", "3d")
	if err != nil {
		t.Fatalf("third create: %v\n%s%s", err, out, errs)
	}
	for _, w := range []string{
		"warning: topic " + topic + ": it has 3 partitions, not 6",
		"warning: topic " + topic + ": retention.ms is 172800000, not 259200000",
		"warning: topic " + topic + ".dlq: retention.ms is 172800000, not 259200000",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("third create: warnings lack %q:\n%s", w, errs)
		}
	}
	if strings.Contains(errs, topic+".dlq: it has") {
		t.Errorf("third create: the dead-letter topic's partitions are not the events topic's: %s", errs)
	}
	if st := describeTopic(t, client, topic); st.partitions != 3 || st.configs["retention.ms"] != want["retention.ms"] {
		t.Errorf("third create changed the topic: %+v", st)
	}
}

// TestTopicsCreateWarnsOfCompaction: a topic someone created compacted is reported with what compaction
// does to the events.
func TestTopicsCreateWarnsOfCompaction(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := "kudos.topics." + randomID("")
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	}}})
	if err != nil || resp.Errors[topic] != nil {
		t.Fatalf("create a compacted topic: %v %v", err, resp)
	}
	var out, errb bytes.Buffer
	err = run(ctx, []string{"topics", "create", "--brokers", strings.Join(brokers, ","), "--topic", topic, "--partitions", "1", "--replication-factor", "1"}, func(string) string { return "" }, &out, &errb)
	if err != nil {
		t.Fatalf("create: %v\n%s%s", err, out.String(), errb.String())
	}
	want := "warning: topic " + topic + ": cleanup.policy is compact, not delete: compaction keeps only the last record of each key, that is each user's last event"
	if !strings.Contains(errb.String(), want) {
		t.Errorf("warnings lack %q:\n%s", want, errb.String())
	}
	if !strings.Contains(out.String(), "created topic "+topic+".dlq:") {
		t.Errorf("the missing dead-letter topic was not created:\n%s", out.String())
	}
}

// TestTopicsCreateOverTLSAndSCRAM: the command speaks to a broker that requires TLS with client certificates
// and SCRAM-SHA-512, from the server's own KUDOS_KAFKA_* variables, and refuses a wrong password.
func TestTopicsCreateOverTLSAndSCRAM(t *testing.T) {
	secure := testenv.KafkaSecureListener(t)
	topic := "kudos.topics." + randomID("")
	env := map[string]string{"KUDOS_KAFKA_TOPIC": topic}
	for _, kv := range secure.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	args := []string{"topics", "create", "--partitions", "2", "--replication-factor", "1"}
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, getenv, &out, &errb); err != nil {
		t.Fatalf("create over TLS and SCRAM: %v\n%s%s", err, out.String(), errb.String())
	}
	for _, name := range []string{topic, topic + ".dlq"} {
		if !strings.Contains(out.String(), "created topic "+name+":") {
			t.Errorf("output does not report %s created:\n%s", name, out.String())
		}
	}
	// The topic is there for a plaintext client too (same broker).
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaBrokers(t)...), Timeout: 20 * time.Second}
	if st := describeTopic(t, client, topic); st.partitions != 2 {
		t.Errorf("%s has %d partitions, want 2", topic, st.partitions)
	}

	env["KUDOS_KAFKA_SASL_PASSWORD"] = "wrong"
	env["KUDOS_KAFKA_TOPIC"] = topic + "-2"
	out.Reset()
	errb.Reset()
	if err := run(context.Background(), args, getenv, &out, &errb); err == nil {
		t.Fatalf("a wrong SCRAM password was accepted:\n%s", out.String())
	}
}
