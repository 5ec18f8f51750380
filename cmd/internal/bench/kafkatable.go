package bench

import (
	"fmt"
	"strings"
)

// KafkaTargetPerSec and KafkaTargetRatio are issue 18's Kafka targets: ≥ 100,000 events/s with acks=all
// through the durable spool, and ≥ 0.5× kcat on the same broker in the same run.
const (
	KafkaTargetPerSec = 100_000
	KafkaTargetRatio  = 0.5
)

// writeKafkaTable writes the kafka set of scripts/bench.sh: the sink's and kcat's events/s and their ratio,
// each the median of the runs (the ratio is the median of each run's own ratio), with what explains them.
func writeKafkaTable(b *strings.Builder, results []Result) {
	runs := runsOf(results, "kafka")
	if len(runs) == 0 {
		return
	}
	events := median(runs, func(r Result) float64 { return float64(r.Events) })
	fmt.Fprintf(b, "### Kafka, acks=all (%s events of %.0f bytes, compression %s)\n\n", thousands(events),
		median(runs, func(r Result) float64 { return r.EventBytes }), runs[0].Compression)
	b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
	row := func(name string, f func(Result) float64, format func(float64) string, load bool) {
		l := " "
		if load {
			l = " " + loads(runs) + " "
		}
		fmt.Fprintf(b, "| %s | %s | %s |%s|\n", name, format(median(runs, f)), joinRuns(runs, func(r Result) string { return format(f(r)) }), l)
	}
	two := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	one := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	perSec := median(runs, func(r Result) float64 { return r.EventsPerSec })
	ratio := median(runs, func(r Result) float64 { return r.KcatRatio })
	row("sink events/s (durable spool, kafka-go)", func(r Result) float64 { return r.EventsPerSec }, thousands, true)
	row("kcat events/s (librdkafka)", func(r Result) float64 { return r.KcatEventsPerSec }, thousands, false)
	row("sink ÷ kcat", func(r Result) float64 { return r.KcatRatio }, two, false)
	row("events per spool commit (fsync)", func(r Result) float64 { return r.EventsPerCommit }, one, false)
	row("events per Kafka write", func(r Result) float64 { return r.EventsPerBatch }, one, false)
	row("sink and publishers CPU, s", func(r Result) float64 { return r.BenchCPU }, two, false)
	row("kcat CPU, s", func(r Result) float64 { return r.KcatCPU }, two, false)
	fmt.Fprintf(b, "\n**Against issue 18:** %s events/s through the spool (target ≥ %s: %s); sink ÷ kcat %.2f (target ≥ %.1f: %s).\n\n",
		thousands(perSec), thousands(KafkaTargetPerSec), metOrNot(perSec >= KafkaTargetPerSec),
		ratio, KafkaTargetRatio, metOrNot(ratio >= KafkaTargetRatio))
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}
