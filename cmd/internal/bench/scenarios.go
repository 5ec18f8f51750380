package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/segmentio/kafka-go"

	"github.com/kudos-live/kudos/cmd/internal/eventsink"
	"github.com/kudos-live/kudos/engagement"
)

// serverCommentRate is the server's default per-user comment limit (engagement.Config.CommentRate): posters
// faster than this are refused rate_limited.
const serverCommentRate = 1.0

// ackWait bounds the wait for the answers to the last comments.
const ackWait = 5 * time.Second

// runFanout: viewers on one node (or spread over several, twonode), posters on the first, comments at
// cfg.Rate for cfg.Duration; every viewer should receive every comment.
func runFanout(ctx context.Context, cfg Config, rep *Report) error {
	urls := cfg.nodes()
	if per := cfg.Rate / float64(cfg.Posters); per > serverCommentRate {
		fmt.Fprintf(cfg.stderr(), "kudos-bench: warning: %.1f comments/s per poster is over the server's %.0f/s per user; use more -posters\n", per, serverCommentRate)
	}
	m, _, err := hostedStream(ctx, cfg)
	if err != nil {
		return err
	}
	joinStart := time.Now()
	g, err := connectViewers(ctx, cfg, urls, cfg.Stream)
	if err != nil {
		return err
	}
	joined := time.Since(joinStart)
	posters := newPool(cfg, cfg.Viewers, "bench-poster")
	if err := posters.connect(ctx, urls[:1], cfg.Stream, cfg.Posters, m.viewer); err != nil {
		posters.close()
		g.finish(ctx, 0, 0)
		return fmt.Errorf("connect posters: %w", err)
	}
	defer posters.close()

	srv0, srvErr := serversMetrics(ctx, urls)
	gen0 := g.cpu()
	var sent atomic.Int64
	stop := progress(cfg, "posting", g.snapshot, func() string {
		return fmt.Sprintf("sent %d acked %d", sent.Load(), posters.sendAcks.Load())
	})
	start := time.Now()
	post(ctx, cfg, posters, &sent)
	posting := time.Since(start)
	deadline := time.Now().Add(ackWait)
	for time.Now().Before(deadline) && posters.sendAcks.Load()+posters.sendErrorCount() < sent.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	expected := posters.sendAcks.Load()
	st := g.finish(ctx, expected, cfg.Drain)
	stop()
	window := time.Since(start).Seconds()
	rep.BenchCPU = g.cpu() - gen0
	rep.BenchCores = rep.BenchCPU / window
	if srv1, err := serversMetrics(ctx, urls); err == nil && srvErr == nil {
		rep.ServerCPU = srv1.CPU - srv0.CPU
		rep.ServerCores = rep.ServerCPU / window
		rep.ServerSampled = int64(srv1.Sampled - srv0.Sampled)
	}
	rep.LoadAfter = loadAvg()
	rep.setStats(st)
	rep.setJoin(joined)
	rep.Posters, rep.Rate, rep.Posting = cfg.Posters, cfg.Rate, Seconds(posting.Seconds())
	rep.CommentsSent, rep.CommentsAcked = sent.Load(), expected
	rep.SendErrors = posters.snapshotSendErrors()
	rep.Expected = expected * int64(st.Connected)
	rep.PerSec = float64(st.Comments) / posting.Seconds()
	if rep.Expected > 0 {
		rep.DeliveredShare = float64(st.Comments) / float64(rep.Expected)
	}
	return ctx.Err()
}

// post sends comments from every poster, cfg.Rate in all, for cfg.Duration. Each comment carries its send
// time ("t=<unix ns>") for the viewers' latency.
func post(ctx context.Context, cfg Config, posters *pool, sent *atomic.Int64) {
	ms := posters.members()
	if len(ms) == 0 {
		return
	}
	interval := time.Duration(float64(len(ms)) / cfg.Rate * float64(time.Second))
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(interval * time.Duration(i) / time.Duration(len(ms)))
			for seq := 0; next.Before(end); seq++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				frame := fmt.Sprintf(`{"type":"comment.send","id":"c%d","data":{"text":"t=%d bench %d/%d"}}`, seq, time.Now().UnixNano(), i, seq)
				_ = m.conn.SetWriteDeadline(time.Now().Add(handshakeWait))
				if err := m.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
					return
				}
				sent.Add(1)
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
}

func (p *pool) sendErrorCount() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, v := range p.sendErrors {
		n += v
	}
	return n
}

func (p *pool) snapshotSendErrors() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sendErrors) == 0 {
		return nil
	}
	out := map[string]int64{}
	for k, v := range p.sendErrors {
		out[k] = v
	}
	return out
}

// serversMetrics adds up the /metrics figures of the servers.
func serversMetrics(ctx context.Context, urls []string) (metrics, error) {
	var total metrics
	for _, u := range urls {
		var m metrics
		if err := scrape(ctx, u, &m); err != nil {
			return total, err
		}
		total.CPU += m.CPU
		total.Sampled += m.Sampled
	}
	return total, nil
}

// runVotes: a host opens a poll, every viewer votes within cfg.VoteWindow; the final tally must equal the
// votes acked.
func runVotes(ctx context.Context, cfg Config, rep *Report) error {
	_, host, err := hostedStream(ctx, cfg)
	if err != nil {
		return err
	}
	g, err := connectViewers(ctx, cfg, []string{cfg.URL}, cfg.Stream)
	if err != nil {
		return err
	}
	options := make([]string, cfg.Options)
	for i := range options {
		options[i] = fmt.Sprintf("option %d", i+1)
	}
	var p poll
	base := cfg.URL + "/api/v1/streams/" + cfg.Stream + "/polls"
	if err := call(ctx, http.MethodPost, base, host, map[string]any{"question": "kudos-bench vote storm", "options": options}, &p); err != nil {
		g.finish(ctx, 0, 0)
		return fmt.Errorf("open poll: %w", err)
	}
	stop := progress(cfg, "voting", g.snapshot, nil)
	g.vote(ctx, p.ID, cfg.Options, cfg.VoteWindow, cfg.VoteWait)
	stop()
	var final poll
	ferr := call(ctx, http.MethodGet, base+"/"+p.ID, "", nil, &final)
	st := g.finish(ctx, 0, 0)
	rep.LoadAfter = loadAvg()
	rep.setStats(st)
	if ferr != nil {
		return fmt.Errorf("read final tally: %w", ferr)
	}
	rep.Tally, rep.TallyTotal = final.Counts, final.Total
	acked := slices.Clone(st.AckedByOpt)
	for len(acked) < len(final.Counts) {
		acked = append(acked, 0)
	}
	rep.TallyExact = final.Total == st.VotesAcked && slices.Equal(final.Counts, acked)
	return ctx.Err()
}

// runIdle: cfg.Viewers sockets that do nothing; the server's memory before and after gives its cost per
// connection.
func runIdle(ctx context.Context, cfg Config, rep *Report) error {
	_, _, err := hostedStream(ctx, cfg)
	if err != nil {
		return err
	}
	before, err := serverMetrics(ctx, cfg.URL, cfg.ServerPID)
	if err != nil {
		return err
	}
	joinStart := time.Now()
	g, err := connectViewers(ctx, cfg, []string{cfg.URL}, cfg.Stream)
	if err != nil {
		return err
	}
	joined := time.Since(joinStart)
	stop := progress(cfg, "idle", g.snapshot, nil)
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
	}
	after, merr := serverMetrics(ctx, cfg.URL, cfg.ServerPID)
	stop()
	st := g.finish(ctx, 0, 0)
	rep.LoadAfter = loadAvg()
	rep.setStats(st)
	rep.setJoin(joined)
	if merr != nil {
		return merr
	}
	rep.RSSBefore, rep.RSSAfter = before.RSS, after.RSS
	rep.HeapBefore, rep.HeapAfter, rep.Goroutines = before.Heap, after.Heap, after.Goroutines
	if n := st.Connected; n > 0 {
		rep.RSSPerConn = float64(after.RSS-before.RSS) / float64(n)
		rep.HeapPerConn = float64(after.Heap-before.Heap) / float64(n)
	}
	return ctx.Err()
}

// runKafka: cfg.Events events through the durable spool to the broker with acks=all, from cfg.Posters
// publishing goroutines; the clock stops when Kafka has acknowledged the last one.
func runKafka(ctx context.Context, cfg Config, rep *Report) error {
	dir := cfg.Spool
	if dir == "" {
		d, err := os.MkdirTemp("", "kudos-bench-spool-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink, err := eventsink.New(ctx, eventsink.Config{Dir: dir, Brokers: cfg.Brokers, Topic: cfg.Topic, Logger: quiet, Source: "kudos/bench", MaxBytes: 8 << 30, Security: cfg.KafkaSecurity})
	if err != nil {
		return err
	}
	defer sink.Close()
	event := func(user string, seq int) (engagement.Event, error) {
		return engagement.NewEvent("kudos/bench", engagement.EventLikeSent, cfg.Stream, user, "A", time.Now(), map[string]int{"seq": seq})
	}
	warm, err := event("warmup", 0)
	if err != nil {
		return err
	}
	if err := sink.Publish(ctx, warm); err != nil {
		return err
	}
	if err := sink.Flush(ctx); err != nil {
		return fmt.Errorf("first event to Kafka (topic creation): %w", err)
	}
	rep.Compression = "none"
	before := sink.Stats()
	cpu0 := processCPU()
	var next atomic.Int64
	var published atomic.Int64
	errc := make(chan error, cfg.Posters)
	start := time.Now()
	stop := progress(cfg, "publishing", newStats, func() string {
		s := sink.Stats()
		return fmt.Sprintf("events spooled %d acked by Kafka %d", s.Spooled, s.Sent)
	})
	var wg sync.WaitGroup
	for w := range cfg.Posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("bench-user-%d", w)
			batch := make([]engagement.Event, 0, cfg.Batch)
			for {
				first := int(next.Add(int64(cfg.Batch))) - cfg.Batch
				if first >= cfg.Events {
					return
				}
				batch = batch[:0]
				for seq := first; seq < min(first+cfg.Batch, cfg.Events); seq++ {
					e, err := event(user, seq)
					if err != nil {
						errc <- err
						return
					}
					batch = append(batch, e)
				}
				if err := sink.Publish(ctx, batch...); err != nil {
					errc <- err
					return
				}
				published.Add(int64(len(batch)))
			}
		}()
	}
	wg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ferr := sink.Flush(fctx)
	elapsed := time.Since(start)
	rep.BenchCPU = processCPU() - cpu0
	rep.BenchCores = rep.BenchCPU / elapsed.Seconds()
	stop()
	rep.LoadAfter = loadAvg()
	rep.Viewers, rep.Procs = 0, 0
	rep.Events = int(published.Load())
	rep.EventsPerSec = float64(rep.Events) / elapsed.Seconds()
	after := sink.Stats()
	if n := after.Commits - before.Commits; n > 0 {
		rep.EventsPerCommit = float64(after.Spooled-before.Spooled) / float64(n)
	}
	if n := after.Batches - before.Batches; n > 0 {
		rep.EventsPerBatch = float64(after.Sent-before.Sent) / float64(n)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("publish: %w", err)
	default:
	}
	if ferr != nil {
		return fmt.Errorf("flush to Kafka: %w", ferr)
	}
	// The same events as the publishers made, encoded as the spool holds them (made after the run, so that
	// they do not change the garbage collector's pace during it): their mean size, and kcat's input.
	payload, err := makeKcatPayload(cfg, cfg.Events, event)
	if err != nil {
		return err
	}
	rep.EventBytes = payload.meanValue()
	if cfg.Kcat == "" {
		return nil
	}
	sink.Close() // idle by now; its goroutines stop before kcat's run
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	partitions, err := topicPartitions(ctx, client, cfg.Topic)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", cfg.Topic, err)
	}
	fmt.Fprintf(cfg.stderr(), "kcat: %d records of %.0f bytes to %s.kcat (%d partitions)\n", payload.records, payload.meanValue(), cfg.Topic, partitions)
	kr, err := runKcat(ctx, cfg, payload, partitions)
	if err != nil {
		return err
	}
	rep.KcatEventsPerSec, rep.KcatCPU, rep.KcatVersion = kr.perSec, kr.cpu, kr.version
	rep.KcatRatio = rep.EventsPerSec / kr.perSec
	return nil
}

// hostedStream mints tokens with the server's secret and creates the run's stream with a host token.
func hostedStream(ctx context.Context, cfg Config) (*minter, string, error) {
	m, err := newMinter(cfg.Secret)
	if err != nil {
		return nil, "", err
	}
	host, err := m.host(cfg.Stream)
	if err != nil {
		return nil, "", err
	}
	if err := createStream(ctx, cfg.URL, host, cfg.Stream); err != nil {
		return nil, "", err
	}
	return m, host, nil
}
