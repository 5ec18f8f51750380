package eventsink

import "github.com/prometheus/client_golang/prometheus"

// metrics are read from the Sink's counters at scrape time, so the hot paths only touch atomics.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, s *Sink) (*metrics, error) {
	m := &metrics{reg: reg}
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_bytes",
			Help: "Bytes in the spool not yet acknowledged by Kafka.",
		}, func() float64 { return float64(s.pending.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "kudos", Subsystem: "eventsink", Name: "spool_max_bytes",
			Help: "Spool size at which events are refused.",
		}, func() float64 { return float64(s.cfg.MaxBytes) }),
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
