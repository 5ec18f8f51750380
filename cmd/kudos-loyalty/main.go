// Command kudos-loyalty is the sample downstream consumer of the Kudos event topic: it reads the events
// as a Kafka consumer group, folds them into engagement and loyalty metrics (participation, watch time,
// retention, NPS, CSAT, sales per show, repeat purchases, points, tiers, churn risk; days in the business
// time zone, -tz / KUDOS_TIME_ZONE, default Asia/Shanghai) and prints them as a table or as JSON.
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
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -tz works in images without a zone database

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
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kudos-loyalty", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
		"business time zone of days for retention and churn (env KUDOS_TIME_ZONE, as the server's)")
	fs.Func("now", "report time for retention and churn, RFC 3339 (default: the newest event's time)",
		func(s string) (err error) {
			o.now, err = time.Parse(time.RFC3339, s)
			return err
		})
	fs.StringVar(&o.logLevel, "log-level", or(getenv("KUDOS_LOG_LEVEL"), "info"),
		"debug, info, warn or error (env KUDOS_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
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

	agg := loyalty.NewAggregatorIn(o.loc)
	c, err := loyalty.NewConsumer(o.consumer, agg)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Warn("close consumer", "err", err)
		}
	}()
	report := func() error { return printReport(stdout, agg.Report(o.now), o.json) }

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

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
