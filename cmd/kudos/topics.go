package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/engagement"
)

// The defaults of `kudos topics create` (docs/events.md, "Creating the topics"): a production topic on a
// cluster of three or more brokers, where a write with acks=all survives the loss of one broker.
const (
	defaultTopicPartitions   = 12
	defaultTopicReplication  = 3
	defaultTopicMinInsync    = 2
	defaultTopicRetention    = "7d"
	dlqTopicPartitions       = 1
	dlqTopicSuffix           = ".dlq" // as eventsink names the dead-letter topic
	topicsRequestTimeout     = 30 * time.Second
	topicCleanupPolicy       = "delete"     // never compact: compaction keeps only each user's last event
	topicMessageTimestampTyp = "CreateTime" // the record timestamp is the event's time, as the producer sets it
)

// topicSpec is what `kudos topics create` asks of one topic.
type topicSpec struct {
	Name        string
	Partitions  int
	Replication int
	Configs     map[string]string // topic-level configs, by Kafka's names
}

// topicsCmd implements `kudos topics create`.
func topicsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: kudos topics create [flags] (kudos topics create -h lists them)")
	}
	fs := flag.NewFlagSet("kudos topics create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers (default: KUDOS_KAFKA_BROKERS)")
	topic := fs.String("topic", "", "the events topic; its dead-letter topic is <topic>"+dlqTopicSuffix+" (default: KUDOS_KAFKA_TOPIC, else "+engagement.EventTopic+")")
	partitions := fs.Int("partitions", defaultTopicPartitions, "partitions of the events topic (the dead-letter topic has "+strconv.Itoa(dlqTopicPartitions)+")")
	replication := fs.Int("replication-factor", defaultTopicReplication, "copies of each partition (at most the number of brokers)")
	minInsync := fs.Int("min-insync-replicas", 0, "copies that must have a write before it is acknowledged (default "+strconv.Itoa(defaultTopicMinInsync)+", or the replication factor if smaller)")
	retention := fs.String("retention", defaultTopicRetention, "how long records are kept: a duration (168h), days (7d), or forever")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("kudos topics create: unexpected argument %q", fs.Arg(0))
	}

	list := *brokers
	if list == "" {
		list = getenv("KUDOS_KAFKA_BROKERS")
	}
	var addrs []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	if len(addrs) == 0 || list == "none" {
		return errors.New("kudos topics create: no brokers: set --brokers or KUDOS_KAFKA_BROKERS (the embedded development broker creates its own topics)")
	}
	name := *topic
	if name == "" {
		name = strings.TrimSpace(getenv("KUDOS_KAFKA_TOPIC"))
	}
	if name == "" {
		name = engagement.EventTopic
	}
	if *partitions < 1 {
		return fmt.Errorf("--partitions %d: at least 1", *partitions)
	}
	if *replication < 1 {
		return fmt.Errorf("--replication-factor %d: at least 1", *replication)
	}
	isr := *minInsync
	if isr == 0 {
		isr = min(defaultTopicMinInsync, *replication)
	}
	if isr < 1 || isr > *replication {
		return fmt.Errorf("--min-insync-replicas %d: between 1 and the replication factor (%d); more would refuse every write", isr, *replication)
	}
	retentionMS, err := parseRetention(*retention)
	if err != nil {
		return fmt.Errorf("--retention %q: %w", *retention, err)
	}
	settings, err := config.KafkaSecurityFromEnv(getenv)
	if err != nil {
		return err
	}
	sec, err := kafkasec.New(settings)
	if err != nil {
		return err
	}

	configs := map[string]string{
		"cleanup.policy":         topicCleanupPolicy,
		"retention.ms":           strconv.FormatInt(retentionMS, 10),
		"min.insync.replicas":    strconv.Itoa(isr),
		"message.timestamp.type": topicMessageTimestampTyp,
	}
	specs := []topicSpec{
		{Name: name, Partitions: *partitions, Replication: *replication, Configs: configs},
		{Name: name + dlqTopicSuffix, Partitions: dlqTopicPartitions, Replication: *replication, Configs: configs},
	}
	client := &kafka.Client{
		Addr:      kafka.TCP(addrs...),
		Timeout:   topicsRequestTimeout,
		Transport: sec.Transport(&kafka.Transport{ClientID: "kudos-topics", DialTimeout: 10 * time.Second}),
	}
	ctx, cancel := context.WithTimeout(ctx, topicsRequestTimeout)
	defer cancel()
	return createTopics(ctx, client, specs, stdout, stderr)
}

// parseRetention reads a retention as Kafka's retention.ms: a Go duration, a number of days ("7d"), or
// "forever" (-1).
func parseRetention(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "forever" || s == "-1":
		return -1, nil
	case strings.HasSuffix(s, "d"):
		days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || days < 1 {
			return 0, errors.New("days must be a whole number of at least 1")
		}
		return int64(days) * 24 * time.Hour.Milliseconds(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration (168h), days (7d) or forever")
	}
	if d < time.Minute {
		return 0, errors.New("at least a minute")
	}
	return d.Milliseconds(), nil
}

// createTopics creates each topic that does not exist and reports each that does on out, with a warning on
// warn for every setting that differs from the spec. It fails only when a topic could not be created or inspected.
func createTopics(ctx context.Context, client *kafka.Client, specs []topicSpec, out, warn io.Writer) error {
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.Replication}
		for _, k := range sortedKeys(s.Configs) {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics on %s: %w", client.Addr, err)
	}
	var failed []string
	for _, s := range specs {
		err := resp.Errors[s.Name]
		switch {
		case err == nil:
			fmt.Fprintf(out, "created topic %s: %d partitions, replication factor %d, %s\n", s.Name, s.Partitions, s.Replication, configText(s.Configs))
		case errors.Is(err, kafka.TopicAlreadyExists):
			diffs, err := topicDiffs(ctx, client, s)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s exists but could not be inspected: %v", s.Name, err))
				continue
			}
			if len(diffs) == 0 {
				fmt.Fprintf(out, "topic %s already exists with these settings\n", s.Name)
				continue
			}
			fmt.Fprintf(out, "topic %s already exists; left as it is\n", s.Name)
			for _, d := range diffs {
				fmt.Fprintf(warn, "warning: topic %s: %s\n", s.Name, d)
			}
		default:
			failed = append(failed, fmt.Sprintf("%s: %v", s.Name, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("kudos topics create: %s", strings.Join(failed, "; "))
	}
	return nil
}

// topicDiffs compares an existing topic with the spec: partitions, replication factor and each config.
func topicDiffs(ctx context.Context, client *kafka.Client, s topicSpec) ([]string, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.Name}})
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, t := range meta.Topics {
		if t.Name != s.Name {
			continue
		}
		if t.Error != nil {
			return nil, t.Error
		}
		if len(t.Partitions) != s.Partitions {
			diffs = append(diffs, fmt.Sprintf("it has %d partitions, not %d", len(t.Partitions), s.Partitions))
		}
		if len(t.Partitions) > 0 && len(t.Partitions[0].Replicas) != s.Replication {
			diffs = append(diffs, fmt.Sprintf("its replication factor is %d, not %d", len(t.Partitions[0].Replicas), s.Replication))
		}
	}
	dc, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic,
		ResourceName: s.Name,
		ConfigNames:  sortedKeys(s.Configs),
	}}})
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, r := range dc.Resources {
		if r.Error != nil {
			return nil, r.Error
		}
		for _, e := range r.ConfigEntries {
			got[e.ConfigName] = e.ConfigValue
		}
	}
	for _, k := range sortedKeys(s.Configs) {
		v, ok := got[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("the broker did not report %s (wanted %s)", k, s.Configs[k]))
			continue
		}
		if v != s.Configs[k] {
			d := fmt.Sprintf("%s is %s, not %s", k, v, s.Configs[k])
			if k == "cleanup.policy" && strings.Contains(v, "compact") {
				d += ": compaction keeps only the last record of each key, that is each user's last event"
			}
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func configText(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
