// Command kudos-loyalty is the sample downstream consumer of the Kudos event topic: it reads the events
// as a Kafka consumer group, folds them into the shop playbook's metrics (day-1/7/30 retention,
// participation, sales per show, conversion, click → order per product, repeat purchases, NPS, CSAT,
// segments, outstanding points, A/B arms with a two-proportion test; days in the business time zone,
// -tz / KUDOS_TIME_ZONE, default Asia/Shanghai) and prints them as a table or as JSON; -html FILE writes them
// as a self-contained page with charts. Churn warnings go to the signals topic (-signals-topic, default
// kudos.signals) as kudos.churn.warning events, one id per user and ISO week. Every figure is defined in
// -h (loyalty.Definitions).
//
// With --once it reads until it has caught up with the end of every partition, prints and exits;
// otherwise it follows the topic, printing every --interval and once more when stopped. Offsets are
// committed only after the events are folded. The metrics cover what this run read: a group that already
// committed offsets resumes after them, so use a new --group with --from-beginning to recompute.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -tz works in images without a zone database

	"github.com/kudos-live/kudos/cmd/internal/config"
	"github.com/kudos-live/kudos/cmd/internal/kafkasec"
	"github.com/kudos-live/kudos/cmd/internal/loyalty"
	"github.com/kudos-live/kudos/engagement"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kudos-loyalty:", err)
		os.Exit(1)
	}
}

// options are the command line, after the environment's defaults.
type options struct {
	consumer loyalty.Config
	once     bool
	json     bool
	interval time.Duration
	now      time.Time
	logLevel string
	loc      *time.Location // the business time zone: what a day is (retention, churn)
	html     string         // -html FILE
	signals  string         // the signals topic; "" when disabled
	highFen  int64          // the high-value threshold in fen
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kudos-loyalty", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: kudos-loyalty [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nWhat each figure means (days are business days in -tz):\n%s", loyalty.DefinitionsText())
	}
	brokers := fs.String("brokers", or(getenv("KUDOS_KAFKA_BROKERS"), "127.0.0.1:9092"),
		"comma-separated Kafka brokers (env KUDOS_KAFKA_BROKERS)")
	fs.StringVar(&o.consumer.Topic, "topic", or(getenv("KUDOS_KAFKA_TOPIC"), engagement.EventTopic),
		"event topic (env KUDOS_KAFKA_TOPIC)")
	fs.StringVar(&o.consumer.Group, "group", loyalty.DefaultGroup, "consumer group id")
	fs.BoolVar(&o.consumer.FromBeginning, "from-beginning", false,
		"start partitions the group has no committed offset for at the oldest event, not the newest")
	fs.BoolVar(&o.once, "once", false, "read until caught up with the end of every partition, print, exit")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per report instead of the table")
	o.interval = 10 * time.Second
	fs.Func("interval", "follow mode: print every `N` seconds (or a duration such as 1m; default 10s)",
		func(s string) (err error) {
			o.interval, err = parseInterval(s)
			return err
		})
	tz := fs.String("tz", or(getenv("KUDOS_TIME_ZONE"), "Asia/Shanghai"),
		"business time zone: what a day is for every figure (env KUDOS_TIME_ZONE, as the server's)")
	fs.Func("now", "report time (report day R of retention, segments, churn), RFC 3339 (default: the newest event's time)",
		func(s string) (err error) {
			o.now, err = time.Parse(time.RFC3339, s)
			return err
		})
	fs.StringVar(&o.html, "html", "", "also write the report as a self-contained HTML page with charts to `FILE`")
	fs.StringVar(&o.signals, "signals-topic", loyalty.DefaultSignalsTopic,
		"topic the churn warnings (kudos.churn.warning) are published to; none to publish nothing")
	highYuan := fs.Float64("high-value", float64(loyalty.DefaultHighValueFen)/100,
		"high-value segment: orders of the last 90 business days totalling at least this many `yuan`")
	fs.StringVar(&o.logLevel, "log-level", or(getenv("KUDOS_LOG_LEVEL"), "info"),
		"debug, info, warn or error (env KUDOS_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *highYuan <= 0 {
		return o, fmt.Errorf("-high-value must be a positive number of yuan, got %v", *highYuan)
	}
	o.highFen = int64(math.Round(*highYuan * 100))
	if o.signals == "none" {
		o.signals = ""
	}
	if o.signals != "" && o.signals == o.consumer.Topic {
		return o, fmt.Errorf("-signals-topic %q is the events topic: the signals need a topic of their own (or none)", o.signals)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return o, fmt.Errorf("-tz (KUDOS_TIME_ZONE) %q is not a time zone: %w", *tz, err)
	}
	o.loc = loc
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.consumer.Brokers = append(o.consumer.Brokers, b)
		}
	}
	if len(o.consumer.Brokers) == 0 || *brokers == "none" {
		return o, fmt.Errorf("no Kafka brokers (--brokers or KUDOS_KAFKA_BROKERS)")
	}
	// The server's Kafka TLS and SASL settings, read and checked the same way (README.md, "Kafka security").
	sec, err := config.KafkaSecurityFromEnv(getenv)
	if err != nil {
		return o, err
	}
	if o.consumer.Security, err = kafkasec.New(sec); err != nil {
		return o, err
	}
	return o, nil
}

// parseInterval reads whole seconds ("30") or a Go duration ("30s", "1m").
func parseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.Atoi(s); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("interval must be positive, got %s", s)
	}
	return d, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.consumer.Logger = log

	// Fail closed: a broker that rejects the TLS or SASL settings stops the run here, instead of the
	// reader retrying it forever; an unreachable one is waited for, as without security.
	if err := o.consumer.Security.Check(ctx, o.consumer.Brokers); errors.Is(err, kafkasec.ErrRejected) {
		return err
	}
	agg := loyalty.NewAggregatorIn(o.loc)
	agg.SetHighValueFen(o.highFen)
	c, err := loyalty.NewConsumer(o.consumer, agg)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Warn("close consumer", "err", err)
		}
	}()
	var signals *loyalty.SignalWriter
	if o.signals != "" {
		signals = loyalty.NewSignalWriter(o.consumer.Brokers, o.signals, o.consumer.Security)
		defer func() {
			if err := signals.Close(); err != nil {
				log.Warn("close signals writer", "err", err)
			}
		}()
	}
	report := func() error {
		r := agg.Report(o.now)
		if err := printReport(stdout, r, o.json); err != nil {
			return err
		}
		if o.html != "" {
			if err := writeHTML(o.html, r, o.loc); err != nil {
				return err
			}
		}
		if signals != nil {
			n, err := signals.Publish(ctx, r)
			if err != nil {
				return err
			}
			log.Info("churn warnings published", "topic", o.signals, "warnings", n)
		}
		return nil
	}

	if o.once {
		if err := c.CatchUp(ctx); err != nil {
			return err
		}
		return report()
	}
	log.Info("following", "topic", o.consumer.Topic, "group", o.consumer.Group, "interval", o.interval)
	var printErr error
	err = c.Follow(ctx, o.interval, func() {
		if err := report(); err != nil && printErr == nil {
			printErr = err
		}
	})
	if err != nil {
		return err
	}
	if printErr != nil {
		return printErr
	}
	return report()
}

// printReport writes r as one line of JSON, or as the table followed by a blank line.
func printReport(w io.Writer, r loyalty.Report, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	if err := r.WriteTable(w); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// writeHTML writes the HTML report to path through a temporary file, so a reader never sees half of it.
func writeHTML(path string, r loyalty.Report, loc *time.Location) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kudos-loyalty-*.html")
	if err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := loyalty.WriteHTML(tmp, r, loc); err != nil {
		tmp.Close()
		return fmt.Errorf("-html: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	return nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
