// Package eventsink is the durable Kafka sink for engagement events.
//
// Publish appends events to a spool on disk and returns once they are fsynced (concurrent calls share one
// write and one fsync). A forwarder goroutine ships the spool to Kafka in order and records, durably, how
// far Kafka has acknowledged; everything after that point is sent again after a crash and restart on the
// same directory, so delivery is at least once and consumers dedupe by event id. While Kafka is down the
// spool grows, up to Config.MaxBytes; when it returns the backlog drains in order.
//
// The package owns its spool directory: one Sink per Dir, enforced with a file lock.
package eventsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/engagement"
)

// DefaultTopic is the topic events go to unless configured otherwise: the contract's (engagement.EventTopic).
const DefaultTopic = engagement.EventTopic

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBytes     int64 = 1 << 30
	DefaultSegmentBytes int64 = 64 << 20
	DefaultFlushTimeout       = 5 * time.Second
)

const (
	// kafka-go's Writer defaults to RequiredAcks RequireNone (acknowledged before anything is stored) and a
	// 1 s BatchTimeout (every synchronous write waits a second for company). We need acks from all in-sync
	// replicas before moving the spool's acknowledged position, and the forwarder already hands over up to
	// batchSize events per call, all of them at once: a partition's batch is complete when the call has
	// added its records (kafka-go holds the partition's lock meanwhile), so it leaves after 1 µs rather than
	// waiting for records that will not come (a 5 ms timeout held every batch 5 ms: at most ~100k events/s
	// at 1,000 events a call, and far fewer with smaller calls). The Writer's BatchSize is set per call
	// (Sink.write).
	batchSize    = 1000
	batchTimeout = time.Microsecond
	// readBytes bounds the spool bytes read for one batch.
	// Half of kafka-go's BatchBytes (1 MiB, also about the broker's default message.max.bytes), so that one
	// call never splits a partition's messages over two batches, which a retry could reorder.
	readBytes = 512 << 10

	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second

	// warnFraction of MaxBytes in use triggers one loud warning (again after dropping below it).
	warnFraction = 0.8

	// publishQueue is how many Publish calls may wait for the next group commit.
	publishQueue = 1024
)

// ErrSpoolFull is returned (wrapped) by Publish when accepting the events would take the spool past
// Config.MaxBytes. The events were not accepted.
var ErrSpoolFull = errors.New("event spool full")

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("event sink closed")

// Config configures a Sink. Zero values get the documented defaults.
type Config struct {
	// Dir holds the spool. Required; created if absent.
	Dir string
	// Brokers are the Kafka bootstrap addresses (host:port). Empty means spool only: events are kept on
	// disk, bounded by MaxBytes, and nothing is sent.
	Brokers []string
	// Topic defaults to DefaultTopic.
	Topic string
	// MaxBytes bounds the unacknowledged bytes in the spool; default DefaultMaxBytes (1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new spool segment file starts; default DefaultSegmentBytes.
	SegmentBytes int64
	// FlushTimeout bounds how long Close waits for the spool to reach Kafka; default DefaultFlushTimeout.
	FlushTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the sink's metrics; nil registers none. Close unregisters them.
	Registerer prometheus.Registerer
	// Source ("kudos/<node>") fills Event.Source where it is empty and names this producer to Kafka.
	Source string
	// Security is the TLS and SASL every connection to Kafka uses (the writer, topic creation, dead
	// letters); nil is plaintext. With it set, New first checks that a broker accepts it and refuses to
	// start when one rejects it (kafkasec.ErrRejected); a broker that cannot be reached only delays sending.
	Security *kafkasec.Security

	// beforeAppend, when set (tests only), runs in the writer before each group commit.
	beforeAppend func()
}

// Stats are counters since New.
type Stats struct {
	Spooled    uint64 // events fsynced to the spool
	Sent       uint64 // events acknowledged by Kafka
	SendErrors uint64 // failed Kafka writes (each retried)
	SpoolBytes int64  // bytes in the spool not yet acknowledged by Kafka
	Commits    uint64 // group commits of the spool (one write and one fsync each)
	Batches    uint64 // Kafka writes acknowledged (each one produce request per partition)
}

// Sink is the durable Kafka sink. Create it with New; it is safe for concurrent use.
type Sink struct {
	cfg Config
	log *slog.Logger

	mu     sync.RWMutex // guards closed and sending on reqs
	closed bool
	reqs   chan *publishReq

	committed committedPos // end of the fsynced spool; set by the writer
	metas     metaQueue    // the record fields of committed lines, for the forwarder; pushed by the writer
	keepMetas bool         // there is a forwarder to take them (Config.Brokers); set before the writer starts

	ackMu     sync.Mutex
	acked     position // Kafka-acknowledged position; set by the forwarder
	ackNotify chan struct{}

	pending    atomic.Int64 // unacknowledged spool bytes
	spooled    atomic.Uint64
	sent       atomic.Uint64
	sendErrors atomic.Uint64
	// deadDropped counts dead letters (spool lines that are not events) dropped because the dead-letter
	// topic refused them while Kafka answered: their only trace is the log line and this counter.
	deadDropped atomic.Uint64
	warned      atomic.Bool
	commits     atomic.Uint64 // group commits (write+fsync) done
	batches     atomic.Uint64 // Kafka writes of events acknowledged

	// pendingEvents are the unacknowledged spool lines (events), for kudos_eventsink_spool_events; a spool
	// left by an earlier process is counted on open only with a Registerer.
	pendingEvents atomic.Int64

	metrics *metrics
	lock    *os.File // flock on the spool dir

	writerDone chan struct{}
	kw         *kafka.Writer
	transport  *kafka.Transport
	fwdCancel  context.CancelFunc
	fwdDone    chan struct{}
}

var (
	_ engagement.Sink     = (*Sink)(nil)
	_ engagement.Admitter = (*Sink)(nil)
)

type publishReq struct {
	data   []byte // newline-terminated JSON lines
	events int
	metas  []recordMeta // one per line, in order
	meta1  [1]recordMeta
	done   chan error // buffered, receives exactly once
}

// New opens (or creates) the spool in cfg.Dir and, when cfg.Brokers is set, starts forwarding it to Kafka.
// Events left unacknowledged by a previous process are sent again.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("eventsink: Config.Dir is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Security != nil && len(cfg.Brokers) > 0 {
		// Fail closed: a wrong password, an untrusted certificate or a refused handshake is a configuration
		// error and stops the start; only an unreachable broker is left to the forwarder's retries.
		if err := cfg.Security.Check(ctx, cfg.Brokers); errors.Is(err, kafkasec.ErrRejected) {
			return nil, fmt.Errorf("eventsink: %w", err)
		} else if err != nil {
			cfg.Logger.Warn("Kafka not reachable at start; events are spooled until it is", "security", cfg.Security.String(), "err", err)
		}
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open event spool: %w", err)
	}
	sf, acked, pending, err := openSpool(cfg.Dir, cfg.SegmentBytes)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open event spool %s: %w", cfg.Dir, err)
	}
	s := &Sink{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "eventsink", "topic", cfg.Topic),
		reqs:       make(chan *publishReq, publishQueue),
		committed:  committedPos{pos: position{seg: sf.seg, off: sf.size}, notify: make(chan struct{}, 1)},
		acked:      acked,
		ackNotify:  make(chan struct{}, 1),
		lock:       lock,
		writerDone: make(chan struct{}),
		keepMetas:  len(cfg.Brokers) > 0,
	}
	s.pending.Store(pending)
	if cfg.Registerer != nil {
		if pending > 0 {
			n, err := countLines(cfg.Dir, acked)
			if err != nil {
				sf.close()
				lock.Close()
				return nil, fmt.Errorf("count the events in event spool %s: %w", cfg.Dir, err)
			}
			s.pendingEvents.Store(n)
		}
		m, err := newMetrics(cfg.Registerer, s)
		if err != nil {
			sf.close()
			lock.Close()
			return nil, fmt.Errorf("register event sink metrics: %w", err)
		}
		s.metrics = m
	}
	if pending > 0 {
		s.log.Info("event spool has unsent events from before", "dir", cfg.Dir, "bytes", pending)
	}
	go s.writeLoop(sf)

	if len(cfg.Brokers) == 0 {
		s.log.Warn("no Kafka brokers: events are only kept in the spool", "dir", cfg.Dir, "max_bytes", cfg.MaxBytes)
		return s, nil
	}
	clientID := "kudos"
	if cfg.Source != "" {
		clientID = cfg.Source
	}
	s.transport = cfg.Security.Transport(&kafka.Transport{DialTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second, ClientID: clientID})
	s.kw = &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...),
		// No Topic: each record names its own (the events, or the dead-letter topic).
		// Murmur2, the Java client's default partitioner: key = user id, so one user's events share a
		// partition (and keep order), the same partition a shop's Java producer puts that user's records in.
		Balancer:               kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              batchSize,
		BatchTimeout:           batchTimeout,
		MaxAttempts:            3, // then the forwarder's own backoff takes over, re-sending from the spool
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		AllowAutoTopicCreation: true,
		Transport:              s.transport,
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.fwdCancel = cancel
	s.fwdDone = make(chan struct{})
	go s.forward(fctx, &spoolReader{dir: cfg.Dir, pos: acked})
	return s, nil
}

// Publish appends events to the spool and returns once they are fsynced. It fails with ErrSpoolFull
// (wrapped) when the spool has no room for them, and with ErrClosed after Close. If ctx ends first the
// events may or may not have been spooled; publishing them again is safe since consumers dedupe by id.
func (s *Sink) Publish(ctx context.Context, events ...engagement.Event) error {
	if len(events) == 0 {
		return nil
	}
	r := reqPool.Get().(*publishReq)
	r.data, r.events, r.metas = nil, len(events), r.meta1[:0]
	if len(events) > 1 {
		r.metas = make([]recordMeta, 0, len(events))
	}
	for _, e := range events {
		if e.Source == "" {
			e.Source = s.cfg.Source
		}
		// Compact: never a raw newline inside. What json.Marshal(e) writes: appendEvent for the usual event,
		// else MarshalJSON itself (without encoding/json checking and compacting its output a second time).
		if r.data == nil {
			r.data = make([]byte, 0, len(events)*eventJSONSize(&e))
		}
		n := len(r.data)
		var ok bool
		if r.data, ok = appendEvent(r.data, &e); !ok {
			b, err := e.MarshalJSON()
			if err != nil {
				r.release()
				return fmt.Errorf("encode event %s: %w", e.ID, err)
			}
			r.data = append(r.data, b...)
		}
		r.data = append(r.data, '\n')
		r.metas = append(r.metas, newRecordMeta(&e, len(r.data)-n, ok))
	}

	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		r.release()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		r.release()
		return ctx.Err()
	}
	s.mu.RUnlock()

	select {
	case err := <-r.done:
		r.release() // answered: the writer is done with it
		return err
	case <-ctx.Done():
		return ctx.Err() // r stays with the writer, which answers it later
	}
}

// reqPool keeps publish requests (and their answer channels) for reuse; a request goes back only once
// the writer has answered it, or if it never reached the writer.
var reqPool = sync.Pool{New: func() any { return &publishReq{done: make(chan error, 1)} }}

func (r *publishReq) release() {
	r.data, r.metas = nil, nil
	r.meta1 = [1]recordMeta{}
	reqPool.Put(r)
}

// writeLoop owns the segment being appended to. It takes every Publish call waiting, writes them with one
// write and one fsync (group commit), then answers them all.
func (s *Sink) writeLoop(sf *spoolFile) {
	defer close(s.writerDone)
	defer func() {
		if err := sf.close(); err != nil {
			s.log.Error("close event spool segment", "err", err)
		}
	}()
	var (
		buf   []byte
		batch []*publishReq
		taken []*publishReq
		metas []recordMeta
	)
	for first := range s.reqs {
		batch = append(batch[:0], first)
	gather:
		for len(batch) < publishQueue {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}

		buf, taken = buf[:0], taken[:0]
		used := s.pending.Load()
		events := 0
		for _, r := range batch {
			if used+int64(len(r.data)) > s.cfg.MaxBytes {
				r.done <- fmt.Errorf("spool %d events (%d of %d bytes used): %w", r.events, used, s.cfg.MaxBytes, ErrSpoolFull)
				continue
			}
			used += int64(len(r.data))
			events += r.events
			buf = append(buf, r.data...)
			taken = append(taken, r)
		}
		if len(taken) == 0 {
			continue
		}
		if s.cfg.beforeAppend != nil {
			s.cfg.beforeAppend()
		}
		start := time.Now()
		pos, err := sf.append(buf)
		s.metrics.observeFsync(time.Since(start))
		s.commits.Add(1)
		if err != nil {
			err = fmt.Errorf("append to event spool: %w", err)
			s.log.Error("event spool write failed", "err", err)
		} else {
			s.pending.Add(int64(len(buf)))
			s.pendingEvents.Add(int64(events))
			s.spooled.Add(uint64(events))
			// The lines' metas, with where each ends (buf went whole into segment pos.seg), before the
			// forwarder hears of them.
			metas = metas[:0]
			end := position{seg: pos.seg, off: pos.off - int64(len(buf))}
			for _, r := range taken {
				for _, m := range r.metas {
					end.off += int64(m.size)
					m.end = end
					metas = append(metas, m)
				}
			}
			if end == pos && s.keepMetas {
				s.metas.push(metas)
			}
			clear(metas)
			s.committed.set(pos)
			s.checkFull()
		}
		for _, r := range taken {
			r.done <- err
		}
	}
}

// admitReserve is the room Admit keeps free for the actions already under way: past MaxBytes minus it, new
// actions are refused before they change anything, so that one whose events then find no room is rare.
const admitReserve = 1 << 20

// Admit implements engagement.Admitter: it fails with ErrSpoolFull (wrapped) when the spool is so close to
// MaxBytes that an action's events might find no room, and with ErrClosed after Close.
func (s *Sink) Admit() error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if used, limit := s.pending.Load(), s.cfg.MaxBytes-min(admitReserve, s.cfg.MaxBytes/10); used >= limit {
		return fmt.Errorf("admit an action (%d of %d bytes used): %w", used, s.cfg.MaxBytes, ErrSpoolFull)
	}
	return nil
}

// checkFull warns once when the spool passes warnFraction of MaxBytes, and re-arms below it.
func (s *Sink) checkFull() {
	used := s.pending.Load()
	over := float64(used) >= warnFraction*float64(s.cfg.MaxBytes)
	if over && s.warned.CompareAndSwap(false, true) {
		s.log.Warn("EVENT SPOOL ABOVE 80% FULL: Kafka is not keeping up or is down; at 100% events are refused",
			"dir", s.cfg.Dir, "bytes", used, "max_bytes", s.cfg.MaxBytes)
	} else if !over {
		s.warned.Store(false)
	}
}

// Close stops accepting events, waits up to Config.FlushTimeout for the spool to reach Kafka and stops the
// forwarder. What is not acknowledged by then stays in the spool for the next New on the same Dir. Calling
// it again does nothing.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.writerDone

	var err error
	if s.kw != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FlushTimeout)
		if s.waitAcked(ctx, s.committed.get()) != nil {
			s.log.Warn("event sink closed before Kafka took everything; the rest stays in the spool",
				"dir", s.cfg.Dir, "bytes", s.pending.Load())
		}
		cancel()
		s.fwdCancel()
		<-s.fwdDone
		err = s.kw.Close()
		s.transport.CloseIdleConnections()
	}
	if s.metrics != nil {
		s.metrics.unregister()
	}
	s.lock.Close() // releases the flock
	if err != nil {
		return fmt.Errorf("close kafka writer: %w", err)
	}
	return nil
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Spooled:    s.spooled.Load(),
		Sent:       s.sent.Load(),
		SendErrors: s.sendErrors.Load(),
		SpoolBytes: s.pending.Load(),
		Commits:    s.commits.Load(),
		Batches:    s.batches.Load(),
	}
}

// Flush waits until Kafka has acknowledged everything spooled before the call, or ctx ends. Without
// brokers it fails at once.
func (s *Sink) Flush(ctx context.Context) error {
	if s.kw == nil {
		return errors.New("event sink has no Kafka brokers")
	}
	if err := s.waitAcked(ctx, s.committed.get()); err != nil {
		return fmt.Errorf("flush event spool: %w", err)
	}
	return nil
}

// waitAcked returns when the acknowledged position reaches target, or with ctx's error.
func (s *Sink) waitAcked(ctx context.Context, target position) error {
	// ackNotify wakes one waiter; the tick covers a second one (Flush during Close).
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.ackedPos().before(target) {
		select {
		case <-s.ackNotify:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *Sink) ackedPos() position {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	return s.acked
}

func (s *Sink) setAcked(p position) {
	s.ackMu.Lock()
	s.acked = p
	s.ackMu.Unlock()
	select {
	case s.ackNotify <- struct{}{}:
	default:
	}
}

// removeSegments deletes the segments in [from, to).
func (s *Sink) removeSegments(from, to int64) {
	for seg := from; seg < to; seg++ {
		if err := os.Remove(segmentPath(s.cfg.Dir, seg)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("remove shipped event spool segment", "err", err)
		}
	}
}
