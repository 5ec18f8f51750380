package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/engagement"
)

// kcatPayload is the input of kcat -P -K '\t' -l: one "key<TAB>value" line per record, the value being an
// event's spool line (its JSON, as the sink sends it). It also gives the mean size of the values.
type kcatPayload struct {
	lines      []byte
	records    int
	valueBytes int64
}

// makeKcatPayload encodes n events as runKafka's publishers make them (user bench-user-<w> of posters
// users, event seq), keyed by user as the sink keys them.
func makeKcatPayload(cfg Config, n int, event func(user string, seq int) (engagement.Event, error)) (kcatPayload, error) {
	var p kcatPayload
	for seq := range n {
		user := fmt.Sprintf("bench-user-%d", seq%cfg.Posters)
		e, err := event(user, seq)
		if err != nil {
			return p, err
		}
		e.Source = "kudos/bench"
		b, err := e.MarshalJSON()
		if err != nil {
			return p, err
		}
		if bytes.ContainsAny(b, "\t\n") {
			return p, errors.New("an event's JSON holds a tab or a newline")
		}
		p.lines = append(append(append(append(p.lines, e.Key()...), '\t'), b...), '\n')
		p.records++
		p.valueBytes += int64(len(b))
	}
	return p, nil
}

func (p kcatPayload) meanValue() float64 {
	if p.records == 0 {
		return 0
	}
	return float64(p.valueBytes) / float64(p.records)
}

// kcatResult is one kcat run.
type kcatResult struct {
	perSec  float64
	cpu     float64 // kcat's user + system CPU seconds
	version string
}

// runKcat sends the payload with kcat (librdkafka) to a fresh topic of the same partitions as the sink's,
// with the settings that make the comparison fair: acks=all, no compression, the Java client's murmur2
// partitioner (the sink's Murmur2Balancer), and the sink's three headers (the same names and value sizes;
// kcat sets one value for all records). The clock runs from kcat's start until it exits, which is after
// librdkafka has had every record acknowledged; the topic's end offsets are then checked to hold them all.
func runKcat(ctx context.Context, cfg Config, p kcatPayload, partitions int) (kcatResult, error) {
	var res kcatResult
	if cfg.KafkaSecurity != nil {
		return res, errors.New("-kcat runs against a plaintext listener only")
	}
	out, err := exec.CommandContext(ctx, cfg.Kcat, "-V").CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("kcat -V: %w (%s)", err, bytes.TrimSpace(out))
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version "); ok {
			res.version, _, _ = strings.Cut(v, " (")
			if i := strings.Index(v, "librdkafka "); i >= 0 {
				lib, _, _ := strings.Cut(v[i:], " builtin")
				res.version += ", " + lib
			}
		}
	}
	topic := cfg.Topic + ".kcat"
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		return res, fmt.Errorf("create topic %s: %w", topic, err)
	}
	f, err := os.CreateTemp("", "kudos-bench-kcat-*.txt")
	if err != nil {
		return res, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(p.lines); err != nil {
		f.Close()
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	id := engagement.NewEventID(time.Now())
	cmd := exec.CommandContext(ctx, cfg.Kcat, "-P", "-q", "-b", strings.Join(cfg.Brokers, ","), "-t", topic,
		"-K", "\t", "-X", "acks=all", "-X", "compression.codec=none", "-X", "partitioner=murmur2_random",
		"-H", "content-type=application/cloudevents+json; charset=UTF-8",
		"-H", "ce_type="+engagement.EventLikeSent, "-H", "ce_id="+id,
		"-l", f.Name())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return res, fmt.Errorf("kcat: %w (%s)", err, lastLine(stderr.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	n, err := topicRecords(ctx, client, topic, partitions)
	if err != nil {
		return res, err
	}
	if n != int64(p.records) {
		return res, fmt.Errorf("kcat's topic holds %d records, want %d (%s)", n, p.records, lastLine(stderr.String()))
	}
	res.perSec = float64(p.records) / elapsed.Seconds()
	return res, nil
}

// topicRecords sums the end offsets of the topic's partitions (a fresh topic: its record count).
func topicRecords(ctx context.Context, client *kafka.Client, topic string, partitions int) (int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("list offsets of %s: %w", topic, po.Error)
		}
		n += po.LastOffset
	}
	return n, nil
}

// topicPartitions is how many partitions topic has.
func topicPartitions(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, t.Error
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("topic %s not in the metadata", topic)
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	return last
}
