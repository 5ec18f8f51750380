package eventsink

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FsyncBuckets are the upper bounds, in seconds, of kudos_eventsink_spool_fsync_seconds: an fsync on an SSD
// takes from a few hundred microseconds to a few milliseconds; a slow or overloaded disk shows up above 50 ms.
var FsyncBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// ProduceBuckets are the upper bounds, in seconds, of kudos_eventsink_kafka_produce_seconds: a batch
// acknowledged by all in-sync replicas takes milliseconds to tens of milliseconds; a failing write runs into
// kafka-go's retries and timeouts (seconds).
var ProduceBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// metrics are mostly read from the Sink's counters at scrape time, so the hot paths only touch atomics; the
// two histograms are observed once per group commit and once per Kafka write.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	fsync      prometheus.Histogram
	produce    *prometheus.HistogramVec // by result: ok, error
}

func newMetrics(reg prometheus.Registerer, s *Sink) (*metrics, error) {
	m := &metrics{reg: reg}
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "kudos", Subsystem: "eventsink", Name: "spool_fsync_seconds",
		Help:    "Time to append one group commit (the events of concurrent Publish calls) to the spool and fsync it.",
		Buckets: FsyncBuckets,
	})
	m.produce = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "kudos", Subsystem: "eventsink", Name: "kafka_produce_seconds",
		Help:    "Time of one Kafka write of a batch of spooled events (acks from all in-sync replicas), by result (ok, error).",
		Buckets: ProduceBuckets,
	}, []string{"result"})
	m.produce.WithLabelValues("ok")
	m.produce.WithLabelValues("error")
	m.collectors = []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "events_spooled_total",
			Help: "Events fsynced to the on-disk spool.",
		}, func() float64 { return float64(s.spooled.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "events_sent_total",
			Help: "Events acknowledged by Kafka.",
		}, func() float64 { return float64(s.sent.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "send_errors_total",
			Help: "Failed Kafka writes; each is retried from the spool.",
		}, func() float64 { return float64(s.sendErrors.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "dead_letters_dropped_total",
			Help: "Spool lines that are not events which the dead-letter topic refused while Kafka answered: dropped, logged with their content.",
		}, func() float64 { return float64(s.deadDropped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_bytes",
			Help: "Bytes in the spool not yet acknowledged by Kafka.",
		}, func() float64 { return float64(s.pending.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_max_bytes",
			Help: "Spool size at which events are refused.",
		}, func() float64 { return float64(s.cfg.MaxBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_events",
			Help: "Events in the spool not yet acknowledged by Kafka (the spool's depth).",
		}, func() float64 { return float64(max(s.pendingEvents.Load(), 0)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_oldest_age_seconds",
			Help: "Age of the oldest event in the spool not yet acknowledged by Kafka (by its time); 0 when the spool is drained.",
		}, func() float64 { return s.oldestUnsentAge(time.Now()).Seconds() }),
		m.fsync,
		m.produce,
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// observeFsync records one group commit; m may be nil (no Registerer).
func (m *metrics) observeFsync(d time.Duration) {
	if m != nil {
		m.fsync.Observe(d.Seconds())
	}
}

// observeProduce records one Kafka write; m may be nil (no Registerer).
func (m *metrics) observeProduce(d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.produce.WithLabelValues(result).Observe(d.Seconds())
}
