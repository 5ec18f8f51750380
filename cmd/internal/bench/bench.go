// Package bench is the load generator behind cmd/kudos-bench: it opens many viewer sockets on a Kudos server
// (over several loopback source addresses and, past one process's file limit, several child processes),
// posts comments at a set rate, runs a vote storm, measures idle memory per connection, pushes events
// through the Kafka sink, and reports throughput, latency percentiles, drops and errors.
//
// It only ever targets loopback addresses, and every run is bounded in count and time.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
)

// Scenarios.
const (
	ScenarioFanout  = "fanout"
	ScenarioVotes   = "votes"
	ScenarioIdle    = "idle"
	ScenarioKafka   = "kafka"
	ScenarioTwoNode = "twonode"
)

// Config is one run. The zero value of each field has the documented default, applied by Run.
type Config struct {
	Scenario string // fanout (default), votes, idle, kafka or twonode
	// URL is the server (default http://127.0.0.1:8080); URL2 the other nodes of twonode (one, or several
	// separated by commas), all on the same Redis.
	URL  string
	URL2 string
	// Secret is the server's KUDOS_TOKEN_SECRET: the bench mints its own tokens with it.
	Secret string
	// Stream is the stream to use; default a fresh "bench-<time>" stream created by the run.
	Stream string

	Viewers  int           // viewer sockets; default 100
	Posters  int           // comment posters (fanout, twonode); default 40
	Rate     float64       // comments per second over all posters; default 20
	Duration time.Duration // posting time (fanout), hold time (idle); default 10 s
	Drain    time.Duration // how long to wait for the last comments to arrive; default 5 s

	Options    int           // poll options (votes); default 4
	VoteWindow time.Duration // the votes are spread evenly over this window; default 0: all at once
	VoteWait   time.Duration // how long to wait for the last ack; default 30 s

	SourceAddrs     int           // sockets are spread over 127.0.0.2 … 127.0.0.(1+SourceAddrs); default 4; -1: no bind
	DialConcurrency int           // sockets opened at once; default 64
	Procs           int           // processes holding the viewer sockets; default 1 (this one)
	Settle          time.Duration // idle: wait after connecting before measuring; default 3 s
	ServerPID       int           // read the server's RSS from /proc/<pid>/status instead of /metrics

	Brokers []string // kafka: the brokers
	Topic   string   // kafka: the topic; default kudos.bench.<time>
	Events  int      // kafka: events to send; default 200,000
	Batch   int      // kafka: events per Publish call; default 1
	Spool   string   // kafka: spool directory; default a temporary one
	// Kcat, when set, is the kcat program: after the sink's run the same number of records of the same
	// size go to the same broker through it (acks=all), for the sink ÷ kcat ratio. Plaintext brokers only.
	Kcat string
	// KafkaSecurity is the brokers' TLS and SASL (the server's KUDOS_KAFKA_* settings); nil is plaintext.
	KafkaSecurity *kafkasec.Security `json:"-"`

	Verbose bool
	// Stderr receives the progress line and diagnostics. Default os.Stderr.
	Stderr io.Writer `json:"-"`
	// Executable is the program started for child processes (Procs > 1). Default os.Executable().
	Executable string `json:"-"`
}

func (c *Config) stderr() io.Writer {
	if c.Stderr == nil {
		return os.Stderr
	}
	return c.Stderr
}

func (c *Config) applyDefaults() {
	if c.Stderr != nil {
		if _, ok := c.Stderr.(*os.File); !ok {
			c.Stderr = &lockedWriter{w: c.Stderr} // progress, children and diagnostics write at once
		}
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioFanout
	}
	if c.URL == "" {
		c.URL = "http://127.0.0.1:8080"
	}
	c.URL = strings.TrimRight(c.URL, "/")
	c.URL2 = strings.TrimRight(c.URL2, "/")
	if c.Stream == "" {
		c.Stream = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	}
	if c.Viewers <= 0 {
		c.Viewers = 100
	}
	if c.Posters <= 0 {
		c.Posters = 40
	}
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.Options <= 1 {
		c.Options = 4
	}
	c.Options = min(c.Options, 10)
	c.VoteWindow = max(c.VoteWindow, 0)
	if c.VoteWait <= 0 {
		c.VoteWait = 30 * time.Second
	}
	if c.SourceAddrs == 0 {
		c.SourceAddrs = 4
	}
	c.SourceAddrs = min(c.SourceAddrs, 250)
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 64
	}
	if c.Procs <= 0 {
		c.Procs = 1
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Topic == "" {
		c.Topic = fmt.Sprintf("kudos.bench.%d", time.Now().UnixNano())
	}
	if c.Events <= 0 {
		c.Events = 200_000
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
}

// nodes are the servers the viewers are spread over: URL, and with twonode each node of URL2.
func (c *Config) nodes() []string {
	urls := []string{c.URL}
	if c.Scenario != ScenarioTwoNode {
		return urls
	}
	for _, u := range strings.Split(c.URL2, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// validate refuses targets off this machine: the bench only loads loopback addresses.
func (c *Config) validate() error {
	switch c.Scenario {
	case ScenarioFanout, ScenarioVotes, ScenarioIdle, ScenarioKafka, ScenarioTwoNode:
	default:
		return fmt.Errorf("unknown scenario %q (fanout, votes, idle, kafka, twonode)", c.Scenario)
	}
	urls := c.nodes()
	if c.Scenario == ScenarioTwoNode && len(urls) < 2 {
		return errors.New("twonode needs -url2 (the second server on the same Redis)")
	}
	if c.Scenario == ScenarioKafka {
		if len(c.Brokers) == 0 {
			return errors.New("kafka needs -brokers host:port")
		}
		for _, b := range c.Brokers {
			host, _, err := net.SplitHostPort(b)
			if err != nil || !loopback(host) {
				return fmt.Errorf("broker %q is not a loopback host:port", b)
			}
		}
		return nil
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || !loopback(pu.Hostname()) {
			return fmt.Errorf("url %q must be http(s) on a loopback address (127.0.0.x, localhost)", u)
		}
	}
	if c.Secret == "" {
		return errors.New("the server's token secret is required (-secret or KUDOS_TOKEN_SECRET)")
	}
	if c.Procs > 1 && c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program for child processes: %w", err)
		}
		c.Executable = exe
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wsURL turns the server's base URL into the stream's WebSocket URL.
func wsURL(base, streamID string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws/streams/" + url.PathEscape(streamID)
}

// Run runs cfg's scenario until it completes (or ctx ends) and returns its report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Scenario: cfg.Scenario, Stream: cfg.Stream, Viewers: cfg.Viewers, Procs: cfg.Procs, Started: time.Now().UTC(), Load: loadAvg()}
	var err error
	switch cfg.Scenario {
	case ScenarioFanout, ScenarioTwoNode:
		err = runFanout(ctx, cfg, &rep)
	case ScenarioVotes:
		err = runVotes(ctx, cfg, &rep)
	case ScenarioIdle:
		err = runIdle(ctx, cfg, &rep)
	case ScenarioKafka:
		err = runKafka(ctx, cfg, &rep)
	}
	rep.Elapsed = Seconds(time.Since(rep.Started).Seconds())
	return rep, err
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// loadAvg returns the first three fields of /proc/loadavg (the machine is shared: runs record its load).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
