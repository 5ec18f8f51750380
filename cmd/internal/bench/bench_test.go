package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/cmd/internal/httpapi"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/stream"
)

const testSecret = "bench-test-secret-0123456789"

// childEnv makes the test binary act as a kudos-bench child process (Config.Executable = the test binary).
const childEnv = "KUDOS_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := RunChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServer runs a full Kudos HTTP server with memory backends on a loopback port.
func startServer(t testing.TB) string {
	t.Helper()
	tokens, err := authtoken.NewKey([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := engagement.New(engagement.Config{Logger: quiet}, engagement.NewMemoryStore(), engagement.NewMemorySink())
	reg := stream.NewRegistry(stream.Config{Logger: quiet, MaxConnsPerIP: -1}, svc)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Service: svc, Registry: reg, Tokens: tokens, Logger: quiet}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		srv.Close()
	})
	return srv.URL
}

// TestSmoke runs the real scenarios at a small size against an in-process server and checks the tool's own
// counts: every viewer gets every comment, the tally equals the acked votes, nobody is dropped.
func TestSmoke(t *testing.T) {
	url := startServer(t)
	tests := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, r Report)
	}{
		{
			name:  "fanout",
			cfg:   Config{Scenario: ScenarioFanout, Viewers: 50, Posters: 10, Rate: 10, Duration: time.Second},
			check: checkFanout,
		},
		{
			name:  "fanout over two child processes",
			cfg:   Config{Scenario: ScenarioFanout, Viewers: 50, Posters: 10, Rate: 10, Duration: time.Second, Procs: 2},
			check: checkFanout,
		},
		{
			name:  "votes",
			cfg:   Config{Scenario: ScenarioVotes, Viewers: 50, Options: 3},
			check: checkVotes,
		},
		{
			name:  "votes over two child processes",
			cfg:   Config{Scenario: ScenarioVotes, Viewers: 50, Options: 3, Procs: 2},
			check: checkVotes,
		},
		{
			name: "idle",
			cfg:  Config{Scenario: ScenarioIdle, Viewers: 50, Settle: 200 * time.Millisecond},
			check: func(t *testing.T, r Report) {
				if r.Connected != 50 || r.Dropped != 0 {
					t.Errorf("connected %d dropped %d, want 50 and 0", r.Connected, r.Dropped)
				}
				if r.RSSAfter <= 0 || r.HeapAfter <= 0 {
					t.Errorf("server memory not read: rss %d heap %d", r.RSSAfter, r.HeapAfter)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL, cfg.Secret = url, testSecret
			var stderr bytes.Buffer
			cfg.Stderr = &stderr
			if cfg.Procs > 1 {
				t.Setenv(childEnv, "1")
				cfg.Executable = os.Args[0]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rep, err := Run(ctx, cfg)
			if err != nil {
				t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
			}
			tt.check(t, rep)
			var out bytes.Buffer
			if err := rep.WriteTable(&out); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteJSON(&out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var back Report
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &back); err != nil {
				t.Fatalf("last line is not the JSON report: %v", err)
			}
			if back.Scenario != tt.cfg.Scenario || back.Connected != rep.Connected {
				t.Errorf("JSON report: got scenario %q connected %d, want %q %d", back.Scenario, back.Connected, tt.cfg.Scenario, rep.Connected)
			}
		})
	}
}

func checkFanout(t *testing.T, r Report) {
	t.Helper()
	if r.Connected != 50 || r.DialErrors != 0 || r.Dropped != 0 || r.ReadErrors != 0 {
		t.Errorf("connected %d, dial errors %d, dropped %d, read errors %d; want 50, 0, 0, 0", r.Connected, r.DialErrors, r.Dropped, r.ReadErrors)
	}
	if r.CommentsSent != 10 || r.CommentsAcked != 10 || len(r.SendErrors) > 0 {
		t.Errorf("comments sent %d acked %d errors %v; want 10, 10, none", r.CommentsSent, r.CommentsAcked, r.SendErrors)
	}
	if r.Expected != 500 || r.Deliveries != 500 || r.Complete != 50 || r.Missing != 0 {
		t.Errorf("deliveries %d of %d expected, complete %d, missing %d; want 500 of 500, 50, 0", r.Deliveries, r.Expected, r.Complete, r.Missing)
	}
	if r.Samples != uint64(r.Deliveries) || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Errorf("latency: %d samples, p50 %.2f p99 %.2f max %.2f ms", r.Samples, r.P50, r.P99, r.Max)
	}
}

func checkVotes(t *testing.T, r Report) {
	t.Helper()
	if r.Connected != 50 || r.Dropped != 0 {
		t.Errorf("connected %d dropped %d, want 50 and 0", r.Connected, r.Dropped)
	}
	if r.VotesSent != 50 || r.VotesAcked != 50 || len(r.VoteErrors) > 0 {
		t.Errorf("votes sent %d acked %d errors %v; want 50, 50, none", r.VotesSent, r.VotesAcked, r.VoteErrors)
	}
	if !r.TallyExact || r.TallyTotal != 50 || fmt.Sprint(r.Tally) != "[17 17 16]" {
		t.Errorf("tally %v total %d exact %v; want [17 17 16] total 50 exact", r.Tally, r.TallyTotal, r.TallyExact)
	}
	if r.VoteSpan <= 0 {
		t.Errorf("vote span %.2f ms, want > 0", r.VoteSpan)
	}
}

func TestValidateRefusesOtherHosts(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"loopback", Config{URL: "http://127.0.0.1:8080", Secret: testSecret}, true},
		{"localhost", Config{URL: "http://localhost:8080", Secret: testSecret}, true},
		{"other loopback", Config{URL: "http://127.0.0.9:8080", Secret: testSecret}, true},
		{"private address", Config{URL: "http://10.0.0.1:8080", Secret: testSecret}, false},
		{"public name", Config{URL: "http://example.com", Secret: testSecret}, false},
		{"no secret", Config{URL: "http://127.0.0.1:8080"}, false},
		{"twonode without url2", Config{Scenario: ScenarioTwoNode, URL: "http://127.0.0.1:8080", Secret: testSecret}, false},
		{"twonode on four nodes", Config{Scenario: ScenarioTwoNode, URL: "http://127.0.0.1:8080",
			URL2: "http://127.0.0.1:8081, http://127.0.0.1:8082/,http://127.0.0.1:8083", Secret: testSecret}, true},
		{"twonode with a node off loopback", Config{Scenario: ScenarioTwoNode, URL: "http://127.0.0.1:8080",
			URL2: "http://127.0.0.1:8081,http://10.0.0.1:8082", Secret: testSecret}, false},
		{"twonode with an empty list", Config{Scenario: ScenarioTwoNode, URL: "http://127.0.0.1:8080", URL2: " , ", Secret: testSecret}, false},
		{"kafka on another host", Config{Scenario: ScenarioKafka, Brokers: []string{"192.168.1.2:9092"}}, false},
		{"kafka on loopback", Config{Scenario: ScenarioKafka, Brokers: []string{"127.0.0.1:9092"}}, true},
		{"unknown scenario", Config{Scenario: "soak", Secret: testSecret}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.applyDefaults()
			err := cfg.validate()
			if got := err == nil; got != tt.ok {
				t.Errorf("validate: got err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 500 * time.Millisecond},
		{0.95, 950 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{1.00, 1000 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff < 0 || diff > 0.035 {
			t.Errorf("q%.2f: got %s, want %s within +3.5%%", tt.q, got, tt.want)
		}
	}
	if h.Count() != 1000 || h.Max() != time.Second {
		t.Errorf("count %d max %s, want 1000 and 1s", h.Count(), h.Max())
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345} {
		b := bucketOf(v)
		if b < prev {
			t.Errorf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", v, b, prev)
		}
		prev = b
		if up := bucketUpper(b); up < v || float64(up-v) > 0.035*float64(v)+1 {
			t.Errorf("bucketUpper(bucketOf(%d)) = %d: not just above the value", v, up)
		}
	}
}

func TestHistogramMergeAndJSON(t *testing.T) {
	var a, b Histogram
	for i := range 100 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(100+i) * time.Millisecond)
	}
	raw, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	a.Merge(&back)
	if a.Count() != 200 || a.Max() != 199*time.Millisecond {
		t.Errorf("merged: count %d max %s, want 200 and 199ms", a.Count(), a.Max())
	}
	if got := a.Quantile(0.5); got < 99*time.Millisecond || got > 104*time.Millisecond {
		t.Errorf("merged median %s, want ~100ms", got)
	}
}

func TestHandleCountsFrames(t *testing.T) {
	p := newPool(Config{}, 0, "t")
	m := &member{}
	sent := time.Now().Add(-7 * time.Millisecond)
	lines := []string{
		`{"type":"welcome","data":{"recent":[{"text":"t=1"}]}}`,
		fmt.Sprintf(`{"type":"comment","data":{"id":"c1","user":"u","name":"U","text":"t=%d bench","at":"x"}}`, sent.UnixNano()),
		`{"type":"ack","id":"v2","data":{"id":"v2"}}`,
		`{"type":"error","id":"v1","data":{"id":"v1","code":"duplicate","message":"already voted"}}`,
		`{"type":"ack","id":"c3","data":{"id":"c3","comment_id":"x"}}`,
		`{"type":"error","id":"c4","data":{"id":"c4","code":"rate_limited","message":"slow down"}}`,
		`{"type":"presence","data":{"viewers":3}}`,
		`not json`,
	}
	now := time.Now()
	for _, l := range lines {
		p.handle(m, []byte(l), now)
	}
	st := p.snapshot()
	want := map[string]int64{"welcome": 1, "comment": 1, "ack": 2, "error": 2, "presence": 1, "other": 1}
	for k, v := range want {
		if st.Frames[k] != v {
			t.Errorf("frames[%s] = %d, want %d (all: %v)", k, st.Frames[k], v, st.Frames)
		}
	}
	if st.Comments != 1 || m.comments.Load() != 1 || st.Latency.Count() != 1 {
		t.Errorf("comments %d (member %d), latency samples %d; want 1, 1, 1", st.Comments, m.comments.Load(), st.Latency.Count())
	}
	if got := st.Latency.Max(); got < 7*time.Millisecond || got > 8*time.Millisecond {
		t.Errorf("latency %s, want ~7ms", got)
	}
	if st.VotesAcked != 1 || fmt.Sprint(st.AckedByOpt) != "[0 0 1]" || st.VoteErrors["duplicate"] != 1 {
		t.Errorf("votes acked %d by option %v errors %v", st.VotesAcked, st.AckedByOpt, st.VoteErrors)
	}
	if p.sendAcks.Load() != 1 || p.sendErrorCount() != 1 {
		t.Errorf("comment acks %d errors %d, want 1 and 1", p.sendAcks.Load(), p.sendErrorCount())
	}
}

func TestStatsAdd(t *testing.T) {
	a, b := newStats(), newStats()
	a.Connected, b.Connected = 3, 4
	a.Drops[1008], b.Drops[1008], b.Drops[1001] = 1, 2, 1
	a.AckedByOpt, b.AckedByOpt = []int64{1}, []int64{2, 5}
	a.FirstVoteNS, b.FirstVoteNS = 20, 10
	a.LastAckNS, b.LastAckNS = 50, 40
	a.VoteErrors["closed"], b.VoteErrors["closed"] = 1, 2
	var sum Stats
	sum.Add(a)
	sum.Add(b)
	if sum.Connected != 7 || sum.Drops[1008] != 3 || sum.dropped() != 4 || fmt.Sprint(sum.AckedByOpt) != "[3 5]" ||
		sum.FirstVoteNS != 10 || sum.LastAckNS != 50 || sum.VoteErrors["closed"] != 3 || sum.voteSpan() != 40 {
		t.Errorf("sum: %+v", sum)
	}
}

// BenchmarkFanoutInProcess runs the fanout scenario against an in-process server, so that
// `go test -bench FanoutInProcess -cpuprofile cpu.out` profiles the server's fan-out path (stream.*) next to
// the generator's reading (bench.*). One iteration is one 5 s run; deliveries/s is reported.
func BenchmarkFanoutInProcess(b *testing.B) {
	url := startServer(b)
	viewers := 2000
	if v := os.Getenv("KUDOS_BENCH_VIEWERS"); v != "" {
		_, _ = fmt.Sscan(v, &viewers)
	}
	var rates []float64
	for b.Loop() {
		rep, err := Run(context.Background(), Config{URL: url, Secret: testSecret, Viewers: viewers, Posters: 40,
			Rate: 20, Duration: 5 * time.Second, Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		rates = append(rates, rep.PerSec)
		b.ReportMetric(rep.P99, "p99_ms")
	}
	var sum float64
	for _, r := range rates {
		sum += r
	}
	b.ReportMetric(sum/float64(len(rates)), "deliveries/s")
}

// TestNodesSpreadOverURL2: twonode spreads the viewers over URL and every node listed in URL2; the other
// scenarios use URL alone.
func TestNodesSpreadOverURL2(t *testing.T) {
	cfg := Config{Scenario: ScenarioTwoNode, URL: "http://127.0.0.1:8080/", URL2: "http://127.0.0.1:8081, http://127.0.0.1:8082/,,http://127.0.0.1:8083"}
	cfg.applyDefaults()
	want := []string{"http://127.0.0.1:8080", "http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"}
	if got := cfg.nodes(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nodes() = %q, want %q", got, want)
	}
	cfg.Scenario = ScenarioFanout
	if got := cfg.nodes(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("fanout: nodes() = %q, want only %q", got, want[0])
	}
}
