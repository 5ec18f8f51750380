// Command kudos-bench is Kudos's load generator: it opens many viewer sockets on a server on this machine,
// posts comments at a set rate, runs a vote storm, measures idle memory per connection or pushes events
// through the Kafka sink, and prints a human table and one JSON line. BENCHMARKS.md shows how it is run.
//
//	kudos-bench -scenario fanout -url http://127.0.0.1:8080 -secret S -viewers 15000 -posters 40 -rate 20 -duration 30s -procs 2
//
// With -results it reads what scripts/bench.sh recorded instead, and writes its markdown tables (-tables) or
// draws p50/p99 latency and deliveries/s against viewers (-svg FILE):
//
//	kudos-bench -results results.jsonl -tables -svg capacity.svg
//
// It targets loopback addresses only and stops by itself.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/kudos-live/kudos/cmd/internal/bench"
	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kudos-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg bench.Config
	fs := flag.NewFlagSet("kudos-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Scenario, "scenario", bench.ScenarioFanout, "fanout, votes, idle, kafka or twonode")
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "the server (loopback only)")
	fs.StringVar(&cfg.URL2, "url2", "", "the other servers of twonode, comma-separated (same Redis)")
	fs.StringVar(&cfg.Secret, "secret", getenv("KUDOS_TOKEN_SECRET"), "the server's KUDOS_TOKEN_SECRET (default from the environment)")
	fs.StringVar(&cfg.Stream, "stream", "", "stream id (default a fresh bench-<time> stream)")
	fs.IntVar(&cfg.Viewers, "viewers", 100, "viewer sockets")
	fs.IntVar(&cfg.Posters, "posters", 40, "comment posters (fanout); publishing goroutines (kafka)")
	fs.Float64Var(&cfg.Rate, "rate", 20, "comments per second, all posters together")
	fs.DurationVar(&cfg.Duration, "duration", 0, "posting time (fanout); default 10s")
	fs.DurationVar(&cfg.Drain, "drain", 0, "wait for the last comments to arrive; default 5s")
	fs.IntVar(&cfg.Options, "options", 4, "poll options (votes)")
	fs.DurationVar(&cfg.VoteWindow, "vote-window", 0, "spread the votes evenly over this window (votes); default 0: all at once")
	fs.IntVar(&cfg.SourceAddrs, "source-addrs", 4, "spread sockets over 127.0.0.2… this many addresses; -1: let the kernel choose")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "sockets opened at once")
	fs.IntVar(&cfg.Procs, "procs", 1, "processes holding the viewer sockets (one process may open 20,000 files)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "idle: wait after connecting before reading the server's memory; default 3s")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "idle: read the server's RSS from /proc/<pid>/status instead of /metrics")
	brokers := fs.String("brokers", "", "kafka: comma-separated broker addresses (loopback)")
	fs.StringVar(&cfg.Topic, "topic", "", "kafka: topic (default a fresh kudos.bench.<time>)")
	fs.IntVar(&cfg.Events, "events", 200_000, "kafka: events to send")
	fs.IntVar(&cfg.Batch, "batch", 1, "kafka: events per Publish call")
	fs.StringVar(&cfg.Kcat, "kcat", "", "kafka: then send the same number of records of the same size with this kcat program (acks=all), for the sink ÷ kcat ratio")
	jsonOnly := fs.Bool("json", false, "print only the JSON line on stdout (no table)")
	fs.BoolVar(&cfg.Verbose, "v", false, "log every failed dial")
	cpuprofile := fs.String("cpuprofile", "", "write this process's CPU profile to the file (kafka: the sink's whole path)")
	child := fs.Bool("child", false, "internal: run as a child process of another kudos-bench")
	results := fs.String("results", "", "read scripts/bench.sh's results (JSON lines) instead of running: with -tables and/or -svg")
	tables := fs.Bool("tables", false, "with -results: write the markdown tables (capacity at SLO, small room, idle, joins in memory and on Redis, votes, two nodes, …) on stdout")
	svg := fs.String("svg", "", "with -results: draw p50/p99 latency and deliveries/s against viewers into this SVG file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *results != "" || *tables || *svg != "" {
		return summarize(*results, *tables, *svg, stdout)
	}
	if *child {
		return bench.RunChild(ctx, stdin, stdout)
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(cfg.Brokers) > 0 {
		// The server's Kafka TLS and SASL settings (README.md, "Kafka security"), checked the same way.
		sec, err := config.KafkaSecurityFromEnv(getenv)
		if err != nil {
			return err
		}
		if cfg.KafkaSecurity, err = kafkasec.New(sec); err != nil {
			return err
		}
	}
	cfg.Stderr = stderr
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	rep, err := bench.Run(ctx, cfg)
	if rep.Scenario == "" {
		return err
	}
	if !*jsonOnly {
		if terr := rep.WriteTable(stdout); terr != nil {
			return terr
		}
	}
	if jerr := rep.WriteJSON(stdout); jerr != nil {
		return jerr
	}
	return err
}

// summarize turns the results file of scripts/bench.sh into its tables and its curve.
func summarize(path string, tables bool, svg string, stdout io.Writer) error {
	if path == "" {
		return errors.New("-tables and -svg need -results FILE (the JSON lines of scripts/bench.sh)")
	}
	if !tables && svg == "" {
		return errors.New("-results needs -tables and/or -svg FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	res, err := bench.ReadResults(f)
	f.Close()
	if err != nil {
		return err
	}
	if tables {
		if err := bench.WriteTables(stdout, res); err != nil {
			return err
		}
	}
	if svg != "" {
		var buf bytes.Buffer
		if err := bench.WriteSVG(&buf, bench.Steps(res, "capacity")); err != nil {
			return err
		}
		if err := os.WriteFile(svg, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
