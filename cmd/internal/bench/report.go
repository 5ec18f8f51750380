package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Seconds is a duration written as seconds in JSON.
type Seconds float64

// Dur returns s as a time.Duration.
func (s Seconds) Dur() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// Report is the outcome of one run: the human table and the one JSON line are both made from it.
type Report struct {
	Scenario  string    `json:"scenario"`
	Stream    string    `json:"stream,omitempty"`
	Viewers   int       `json:"viewers"`
	Procs     int       `json:"procs"`
	Started   time.Time `json:"started"`
	Elapsed   Seconds   `json:"elapsed_s"`
	Load      string    `json:"load_before"` // /proc/loadavg at the start: the machine is shared
	LoadAfter string    `json:"load_after"`

	Connected int `json:"connected"`
	// JoinTime is the time to open every viewer socket and get each its welcome; JoinsPerSec is Connected ÷ JoinTime.
	JoinTime    Seconds          `json:"join_s,omitempty"`
	JoinsPerSec float64          `json:"joins_per_s,omitempty"`
	DialErrors  int              `json:"dial_errors"`
	Dropped     int              `json:"dropped"`
	DropsByCode map[int]int      `json:"drops_by_code,omitempty"`
	ReadErrors  int              `json:"read_errors"`
	Frames      map[string]int64 `json:"frames,omitempty"`

	Posters       int              `json:"posters,omitempty"`
	Rate          float64          `json:"rate,omitempty"`
	Posting       Seconds          `json:"posting_s,omitempty"`
	CommentsSent  int64            `json:"comments_sent,omitempty"`
	CommentsAcked int64            `json:"comments_acked,omitempty"`
	SendErrors    map[string]int64 `json:"send_errors,omitempty"`
	Deliveries    int64            `json:"deliveries,omitempty"`
	Expected      int64            `json:"expected_deliveries,omitempty"`
	PerSec        float64          `json:"deliveries_per_s,omitempty"`
	Complete      int              `json:"viewers_complete,omitempty"`
	Missing       int64            `json:"missing,omitempty"`
	Samples       uint64           `json:"latency_samples,omitempty"`
	P50           float64          `json:"p50_ms,omitempty"`
	P95           float64          `json:"p95_ms,omitempty"`
	P99           float64          `json:"p99_ms,omitempty"`
	Max           float64          `json:"max_ms,omitempty"`

	// ChatSkipped is the comments the server told viewers it skipped (chat.skipped counts); DeliveredShare
	// is Deliveries ÷ Expected: how much of the chat a viewer got.
	ChatSkipped    int64   `json:"chat_skipped,omitempty"`
	DeliveredShare float64 `json:"delivered_share,omitempty"`

	VotesSent  int64            `json:"votes_sent,omitempty"`
	VotesAcked int64            `json:"votes_acked,omitempty"`
	VoteErrors map[string]int64 `json:"vote_errors,omitempty"`
	VoteSpan   float64          `json:"vote_span_ms,omitempty"`
	Acked      []int64          `json:"acked_by_option,omitempty"`
	Tally      []int64          `json:"tally,omitempty"`
	TallyTotal int64            `json:"tally_total,omitempty"`
	TallyExact bool             `json:"tally_exact,omitempty"`

	RSSBefore   int64   `json:"server_rss_before,omitempty"`
	RSSAfter    int64   `json:"server_rss_after,omitempty"`
	RSSPerConn  float64 `json:"server_rss_per_conn,omitempty"`
	HeapBefore  int64   `json:"server_heap_before,omitempty"`
	HeapAfter   int64   `json:"server_heap_after,omitempty"`
	HeapPerConn float64 `json:"server_heap_per_conn,omitempty"`
	Goroutines  int64   `json:"server_goroutines,omitempty"`
	ServerCPU   float64 `json:"server_cpu_s,omitempty"`
	ServerCores float64 `json:"server_cores,omitempty"`
	// ServerSampled is how many comment deliveries the servers skipped by per-viewer sampling (kudos_ws_sampled_total).
	ServerSampled int64   `json:"server_sampled,omitempty"`
	BenchCPU      float64 `json:"bench_cpu_s,omitempty"`
	BenchCores    float64 `json:"bench_cores,omitempty"`

	Events       int     `json:"events,omitempty"`
	EventsPerSec float64 `json:"events_per_s,omitempty"`
	// The kafka scenario: the mean spool line of an event (its JSON, which is the record's value), the
	// events per group commit of the spool and per acknowledged Kafka write, the compression (none).
	EventBytes      float64 `json:"event_bytes,omitempty"`
	EventsPerCommit float64 `json:"events_per_commit,omitempty"`
	EventsPerBatch  float64 `json:"events_per_batch,omitempty"`
	Compression     string  `json:"compression,omitempty"`
	// With -kcat: the same number of records of the same values, keys and header sizes, sent by kcat
	// (librdkafka) with acks=all to a topic of the same partitions on the same broker, after the sink's run;
	// KcatRatio is EventsPerSec ÷ KcatEventsPerSec.
	KcatEventsPerSec float64 `json:"kcat_events_per_s,omitempty"`
	KcatCPU          float64 `json:"kcat_cpu_s,omitempty"`
	KcatRatio        float64 `json:"kcat_ratio,omitempty"`
	KcatVersion      string  `json:"kcat_version,omitempty"`
}

// setStats fills the viewer figures of r from st.
func (r *Report) setStats(st Stats) {
	r.Connected, r.DialErrors, r.ReadErrors = st.Connected, st.DialErrors, st.ReadErrors
	r.Dropped, r.DropsByCode = st.dropped(), st.Drops
	r.Frames = st.Frames
	r.Deliveries, r.Complete, r.Missing = st.Comments, st.Complete, st.Missing
	r.ChatSkipped = st.ChatSkipped
	r.Samples = st.Latency.Count()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.P50, r.P95, r.P99, r.Max = ms(st.Latency.Quantile(0.50)), ms(st.Latency.Quantile(0.95)), ms(st.Latency.Quantile(0.99)), ms(st.Latency.Max())
	r.VotesSent, r.VotesAcked, r.Acked = st.VotesSent, st.VotesAcked, st.AckedByOpt
	if len(st.VoteErrors) > 0 {
		r.VoteErrors = st.VoteErrors
	}
	r.VoteSpan = ms(st.voteSpan())
}

// WriteJSON writes r as one line.
func (r Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteTable writes r as a human-readable table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s (stream %s)", r.Scenario, r.Stream)
	row("load (before → after)", "%s → %s", r.Load, r.LoadAfter)
	row("elapsed", "%.1f s", float64(r.Elapsed))
	if r.Scenario == ScenarioKafka {
		row("events", "%d of %.0f bytes (compression %s)", r.Events, r.EventBytes, r.Compression)
		row("events/s (acks=all)", "%.0f", r.EventsPerSec)
		row("events per spool commit / Kafka write", "%.1f / %.1f", r.EventsPerCommit, r.EventsPerBatch)
		row("bench CPU (sink and publishers)", "%.1f s (%.2f cores)", r.BenchCPU, r.BenchCores)
		if r.KcatEventsPerSec > 0 {
			row("kcat events/s (acks=all)", "%.0f (CPU %.1f s; %s)", r.KcatEventsPerSec, r.KcatCPU, r.KcatVersion)
			row("sink ÷ kcat", "%.2f", r.KcatRatio)
		}
		return tw.Flush()
	}
	row("viewers connected", "%d of %d (%d processes), %d dial errors", r.Connected, r.Viewers, r.Procs, r.DialErrors)
	if r.JoinTime > 0 {
		row("joins", "%.0f/s (%.2f s to open all)", r.JoinsPerSec, float64(r.JoinTime))
	}
	row("dropped by server", "%d %s", r.Dropped, codes(r.DropsByCode))
	row("read errors", "%d", r.ReadErrors)
	switch r.Scenario {
	case ScenarioFanout, ScenarioTwoNode:
		row("comments sent / acked", "%d / %d by %d posters at %.1f/s over %.1f s %s", r.CommentsSent, r.CommentsAcked, r.Posters, r.Rate, float64(r.Posting), errs(r.SendErrors))
		row("deliveries (expected)", "%d (%d), %d viewers got all, %d missing", r.Deliveries, r.Expected, r.Complete, r.Missing)
		row("deliveries/s", "%.0f", r.PerSec)
		row("chat skipped (told to viewers)", "%d; delivered share %.3f", r.ChatSkipped, r.DeliveredShare)
		row("latency p50/p95/p99/max", "%.1f / %.1f / %.1f / %.1f ms (%d samples)", r.P50, r.P95, r.P99, r.Max, r.Samples)
		row("skipped by server sampling", "%d", r.ServerSampled)
		if r.ServerCPU > 0 {
			row("server CPU", "%.1f s (%.2f cores)", r.ServerCPU, r.ServerCores)
		}
		row("generator CPU", "%.1f s (%.2f cores)", r.BenchCPU, r.BenchCores)
	case ScenarioVotes:
		row("votes sent / acked", "%d / %d %s", r.VotesSent, r.VotesAcked, errs(r.VoteErrors))
		row("first vote → last ack", "%.0f ms", r.VoteSpan)
		row("tally (acked)", "%v total %d (%v), exact: %v", r.Tally, r.TallyTotal, r.Acked, r.TallyExact)
	case ScenarioIdle:
		row("server RSS before → after", "%.1f → %.1f MiB", mib(r.RSSBefore), mib(r.RSSAfter))
		row("RSS per connection", "%.1f KiB", r.RSSPerConn/1024)
		if r.HeapAfter > 0 {
			row("Go heap in use per connection", "%.1f KiB (%d goroutines)", r.HeapPerConn/1024, r.Goroutines)
		}
	}
	return tw.Flush()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func codes(m map[int]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%d×%d", v, k))
	}
	sort.Strings(parts)
	return "(close codes: " + strings.Join(parts, ", ") + ")"
}

func errs(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return "errors: " + strings.Join(parts, ", ")
}

// setJoin records how long opening the viewer sockets took (every socket dialled and welcomed, child
// processes started included).
func (r *Report) setJoin(d time.Duration) {
	r.JoinTime = Seconds(d.Seconds())
	if d > 0 {
		r.JoinsPerSec = float64(r.Connected) / d.Seconds()
	}
}
