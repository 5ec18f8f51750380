package loyalty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/engagement"
	"github.com/segmentio/kafka-go"
)

// DefaultGroup is this consumer's group.
const DefaultGroup = "kudos-loyalty"

// Config configures a Consumer. Zero values take the documented defaults.
type Config struct {
	Brokers []string // Kafka bootstrap addresses; required
	Topic   string   // default engagement.EventTopic
	Group   string   // consumer group id; default DefaultGroup

	// FromBeginning makes a group with no committed offset on a partition start at the oldest retained
	// event instead of the newest. Committed offsets always win: to recompute from scratch, use a new
	// group.
	FromBeginning bool

	// Offsets are committed (synchronously) once the events up to them are folded: after CommitBatch
	// messages (default 500), or when no message came for CommitIdle (default 200ms).
	CommitBatch int
	CommitIdle  time.Duration

	Logger *slog.Logger // default: discard

	// Security is the TLS and SASL of every connection (the reader and the offsets client); nil is plaintext.
	Security *kafkasec.Security
}

func (c *Config) setDefaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("loyalty consumer: no Kafka brokers")
	}
	if c.Topic == "" {
		c.Topic = engagement.EventTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.CommitBatch <= 0 {
		c.CommitBatch = 500
	}
	if c.CommitIdle <= 0 {
		c.CommitIdle = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Consumer reads the event topic as a member of a consumer group and folds every message into an
// Aggregator. It commits a message's offset only after the message is folded, so a crash re-delivers
// (and the Aggregator of the next run dedupes within that run) rather than loses events. The aggregate
// itself lives in memory: a restarted consumer continues from the committed offsets with empty metrics.
//
// A Consumer is used by one goroutine: CatchUp or Follow, then Close.
type Consumer struct {
	cfg       Config
	agg       *Aggregator
	reader    *kafka.Reader
	transport *kafka.Transport
	client    *kafka.Client
	pending   []kafka.Message // folded, not yet committed
}

// NewConsumer returns a Consumer that folds into agg. It joins the group in the background.
func NewConsumer(cfg Config, agg *Aggregator) (*Consumer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	start := kafka.LastOffset
	if cfg.FromBeginning {
		start = kafka.FirstOffset
	}
	transport := cfg.Security.Transport(&kafka.Transport{})
	return &Consumer{
		cfg: cfg,
		agg: agg,
		reader: kafka.NewReader(kafka.ReaderConfig{
			Brokers:     cfg.Brokers,
			Dialer:      cfg.Security.Dialer(nil),
			GroupID:     cfg.Group,
			Topic:       cfg.Topic,
			StartOffset: start,
			MaxWait:     500 * time.Millisecond,
			// CommitInterval 0: CommitMessages commits synchronously, so "committed" means on the broker.
			CommitInterval: 0,
			Logger: kafka.LoggerFunc(func(msg string, args ...any) {
				log.Debug(fmt.Sprintf(msg, args...))
			}),
			ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
				log.Warn("kafka reader", "err", fmt.Sprintf(msg, args...))
			}),
		}),
		transport: transport,
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: transport},
	}, nil
}

// Close leaves the group and closes the connections. Offsets not yet committed are not committed.
func (c *Consumer) Close() error {
	err := c.reader.Close()
	c.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close kafka reader: %w", err)
	}
	return nil
}

// CatchUp folds events until the group has consumed every partition up to the end offsets it finds when
// called, commits, and returns. It assumes it is the group's only member: partitions assigned to another
// member would keep it waiting until ctx ends.
func (c *Consumer) CatchUp(ctx context.Context) error {
	next, end, err := c.positions(ctx)
	// A new broker creates its offsets topic on the first group request, and a new topic needs a
	// leader: both answer with temporary errors for a few seconds.
	for retryUntil := time.Now().Add(positionsRetry); temporary(err) && time.Now().Before(retryUntil); {
		c.cfg.Logger.Debug("offsets not available yet", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		next, end, err = c.positions(ctx)
	}
	if err != nil {
		return err
	}
	behind := 0
	for p := range end {
		if next[p] < end[p] {
			behind++
		}
	}
	c.cfg.Logger.Debug("catching up", "topic", c.cfg.Topic, "partitions_behind", behind)
	for behind > 0 {
		m, err := c.fetch(ctx, c.cfg.CommitIdle)
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			c.commit(ctx)
			continue
		case err != nil:
			return err
		}
		if e, ok := end[m.Partition]; ok && next[m.Partition] < e && m.Offset+1 >= e {
			behind--
		}
		next[m.Partition] = max(next[m.Partition], m.Offset+1)
	}
	if n := len(c.pending); n > 0 {
		if err := c.reader.CommitMessages(ctx, c.pending...); err != nil {
			return fmt.Errorf("commit %d messages of %s: %w", n, c.cfg.Topic, err)
		}
		c.pending = c.pending[:0]
	}
	return nil
}

// Follow folds events until ctx ends, calling tick every interval (never when interval is 0), and
// commits what it folded before returning nil.
func (c *Consumer) Follow(ctx context.Context, interval time.Duration, tick func()) error {
	var nextTick time.Time
	if interval > 0 {
		nextTick = time.Now().Add(interval)
	}
	for {
		wait := time.Duration(0) // block until a message, or ctx ends
		if len(c.pending) > 0 {
			wait = c.cfg.CommitIdle
		}
		if !nextTick.IsZero() {
			untilTick := max(time.Until(nextTick), time.Millisecond)
			if wait == 0 || untilTick < wait {
				wait = untilTick
			}
		}
		_, err := c.fetch(ctx, wait)
		switch {
		case ctx.Err() != nil:
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.commit(flush)
			cancel()
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			c.commit(ctx)
		case err != nil:
			return err
		}
		if !nextTick.IsZero() && !time.Now().Before(nextTick) {
			tick()
			nextTick = time.Now().Add(interval)
		}
	}
}

// fetch reads one message, waiting at most wait (0: until ctx ends), folds it and queues it for commit.
func (c *Consumer) fetch(ctx context.Context, wait time.Duration) (kafka.Message, error) {
	fctx := ctx
	if wait > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	m, err := c.reader.FetchMessage(fctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return m, fmt.Errorf("read %s: reader closed: %w", c.cfg.Topic, err)
		}
		if fctx.Err() != nil {
			return m, fctx.Err()
		}
		return m, fmt.Errorf("read %s: %w", c.cfg.Topic, err)
	}
	if _, err := c.agg.AddJSON(m.Value); err != nil {
		c.cfg.Logger.Warn("skipped event", "user", string(m.Key), "partition", m.Partition,
			"offset", m.Offset, "err", err)
	}
	c.pending = append(c.pending, m)
	if len(c.pending) >= c.cfg.CommitBatch {
		c.commit(ctx)
	}
	return m, nil
}

// commit commits the folded messages. A failed commit (a rebalance took the partition away, the broker
// is gone) is logged and forgotten: the events will be delivered again, to this consumer or another.
func (c *Consumer) commit(ctx context.Context) {
	if len(c.pending) == 0 {
		return
	}
	if err := c.reader.CommitMessages(ctx, c.pending...); err != nil {
		c.cfg.Logger.Warn("commit offsets", "topic", c.cfg.Topic, "messages", len(c.pending), "err", err)
	}
	c.pending = c.pending[:0]
}

// positionsRetry bounds how long CatchUp retries temporary errors while finding where to start.
const positionsRetry = 30 * time.Second

// temporary reports whether err is a Kafka error worth retrying.
func temporary(err error) bool {
	var kerr kafka.Error
	return errors.As(err, &kerr) && kerr.Temporary()
}

// positions returns, per partition of the topic, where the group will start (its committed offset, else
// the start offset policy) and the end offset (the offset the next produced message will get).
func (c *Consumer) positions(ctx context.Context) (next, end map[int]int64, err error) {
	meta, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.Topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", c.cfg.Topic, err)
	}
	if len(meta.Topics) != 1 {
		return nil, nil, fmt.Errorf("metadata of %s: %d topics in answer", c.cfg.Topic, len(meta.Topics))
	}
	if err := meta.Topics[0].Error; err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %w", c.cfg.Topic, err)
	}
	var ids []int
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		ids = append(ids, p.ID)
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{c.cfg.Topic: reqs},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets of %s: %w", c.cfg.Topic, err)
	}
	committed, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: c.cfg.Group,
		Topics:  map[string][]int{c.cfg.Topic: ids},
	})
	if err == nil {
		err = committed.Error
	}
	if err != nil {
		return nil, nil, fmt.Errorf("committed offsets of group %s: %w", c.cfg.Group, err)
	}
	group := make(map[int]int64)
	for _, p := range committed.Topics[c.cfg.Topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("committed offset of group %s partition %d: %w", c.cfg.Group, p.Partition, p.Error)
		}
		group[p.Partition] = p.CommittedOffset
	}
	next, end = make(map[int]int64), make(map[int]int64)
	for _, p := range offs.Topics[c.cfg.Topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("offsets of %s partition %d: %w", c.cfg.Topic, p.Partition, p.Error)
		}
		end[p.Partition] = p.LastOffset
		switch g, ok := group[p.Partition]; {
		case ok && g >= 0:
			next[p.Partition] = max(g, p.FirstOffset)
		case c.cfg.FromBeginning:
			next[p.Partition] = p.FirstOffset
		default:
			next[p.Partition] = p.LastOffset
		}
	}
	return next, end, nil
}
