package stream

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transport's Prometheus collectors.
type Metrics struct {
	Connections prometheus.Gauge
	FramesIn    *prometheus.CounterVec // by type
	FramesOut   *prometheus.CounterVec // by type, counted once per recipient socket
	Drops       *prometheus.CounterVec // by reason
	Errors      *prometheus.CounterVec // by code
	Hubs        prometheus.Gauge
	Sampled     prometheus.Counter // chat messages skipped for a viewer of a flooded stream
	// ChatSkipped counts chat messages a viewer was not sent, by reason: "sampled" (the stream flooded, as
	// Sampled), "backlog" (the socket had chatBacklog chat messages waiting: the oldest went), "stale" (older
	// than chatMaxAge when its write began). Each viewer is told the count in a chat.skipped frame.
	ChatSkipped *prometheus.CounterVec
	// WriteBatching is 1 while this node holds writes of big streams to batch them (the node is busy), else 0.
	WriteBatching prometheus.Gauge
	// CommentFanout is the time from a comment's acceptance (or, under a video delay, from when it was due)
	// to its frame being written to a socket: one observation per recipient socket.
	CommentFanout prometheus.Histogram
}

// FanoutBuckets are the upper bounds, in seconds, of kudos_ws_comment_fanout_seconds: from a write on an
// idle node (well under a millisecond) past the write delay of big rooms (50 ms) to a slow node (seconds).
var FanoutBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// NewMetrics creates the collectors and registers them with reg (nil: not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "kudos_ws_connections", Help: "Open viewer and host WebSocket connections."}),
		FramesIn:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kudos_ws_frames_in_total", Help: "Client frames received, by type."}, []string{"type"}),
		FramesOut:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kudos_ws_frames_out_total", Help: "Server frames queued to sockets, by type (one per recipient)."}, []string{"type"}),
		Drops:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kudos_ws_drops_total", Help: "Connections closed by the server, by reason."}, []string{"reason"}),
		Errors:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kudos_ws_errors_total", Help: "Error frames sent, by code."}, []string{"code"}),
		Hubs:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "kudos_ws_hubs", Help: "Streams with a running hub on this node."}),
		Sampled:       prometheus.NewCounter(prometheus.CounterOpts{Name: "kudos_ws_sampled_total", Help: "Chat messages not sent to a viewer because the stream was flooding (per-viewer sampling)."}),
		ChatSkipped:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kudos_ws_chat_skipped_total", Help: "Chat messages not sent to a viewer, by reason (sampled: a flooding stream; backlog: too many waiting on the socket; stale: too old to be worth showing); the viewer is sent a chat.skipped count."}, []string{"reason"}),
		WriteBatching: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kudos_ws_write_batching", Help: "1 while this node is busy and holds the writes of big streams to send them in batches (KUDOS_WRITE_DELAY), else 0."}),
		CommentFanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kudos_ws_comment_fanout_seconds",
			Help:    "Time from a comment's acceptance (under a video delay: from when it was due) to its frame being written to a socket, one observation per recipient socket.",
			Buckets: FanoutBuckets,
		}),
	}
	// Every drop reason from zero, so that rates and alerts see a reason before its first drop.
	for _, reason := range []string{reasonSlow, reasonFlood, reasonTooLarge, reasonWriteTimeout, reasonTokenExpired, "connection limit", "handshake rate"} {
		m.Drops.WithLabelValues(reason)
	}
	for _, reason := range []string{skipSampled, skipBacklog, skipStale} {
		m.ChatSkipped.WithLabelValues(reason)
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.FramesIn, m.FramesOut, m.Drops, m.Errors, m.Hubs, m.Sampled, m.ChatSkipped, m.WriteBatching, m.CommentFanout)
	}
	return m
}
