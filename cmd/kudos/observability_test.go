package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/kudos-live/kudos/internal/testenv"
)

// scrape is one read of /metrics in the text format: the metric families by type, and every sample by its
// name with its labels as written ("name{a=\"b\"}").
type scrape struct {
	types   map[string]string
	samples map[string]float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)

func scrapeMetrics(t *testing.T, n *node) scrape {
	t.Helper()
	res, err := http.Get(n.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", res.StatusCode, err)
	}
	s := scrape{types: map[string]string{}, samples: map[string]float64{}}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.types[f[2]] = f[3]
			continue
		}
		if m := sampleLine.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			s.samples[m[1]+m[2]] = v
		}
	}
	return s
}

// sum adds the samples of name whose labels include every one of want (`a="b"` each).
func (s scrape) sum(name string, want ...string) float64 {
	var total float64
next:
	for k, v := range s.samples {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		for _, w := range want {
			if !strings.Contains(labels, w) {
				continue next
			}
		}
		total += v
	}
	return total
}

// exports reports whether the server exports the metric named in a query: a family, or a histogram's
// _bucket, _sum or _count series.
func (s scrape) exports(name string) bool {
	if _, ok := s.types[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && (s.types[base] == "histogram" || s.types[base] == "summary") {
			return true
		}
	}
	return false
}

// TestObservability runs the server in this process as deployed (Redis, a Kafka broker: the embedded one
// here, a private redis-server so that it can be paused), drives some traffic (an API call, two viewer
// sockets, a comment, a bad frame, a readiness check while Redis hangs), and then holds /metrics, the access
// log and the files in deploy/ to each other.
func TestObservability(t *testing.T) {
	rs := testenv.StartRedis(t)
	n, logs := startServer(t, map[string]string{
		"KUDOS_REDIS_URL":       "redis://" + rs.Addr + "/0",
		"KUDOS_KAFKA_BROKERS":   "", // the embedded development broker
		"KUDOS_DEV_BROKER_ADDR": testenv.FreeAddr(t),
		"KUDOS_LOG_FORMAT":      "json",
	})
	streamID := randomID("obs-")
	host := mint(t, "host-"+streamID, "host", streamID)
	if st, body := n.do("POST", "/api/v1/streams", host, map[string]any{"id": streamID, "title": "metrics"}); st != http.StatusCreated {
		t.Fatalf("create stream: %d %v", st, body)
	}
	annToken, bobToken := mint(t, streamID+"-ann", "viewer", ""), mint(t, streamID+"-bob", "viewer", "")
	ann, bob := openViewer(t, n, streamID, annToken), openViewer(t, n, streamID, bobToken)
	for _, v := range []*viewerConn{ann, bob} {
		eventually(t, "welcome", func() bool { return len(v.matching("welcome", nil)) > 0 })
	}
	ann.send(t, "comment.send", "c1", map[string]any{"text": "does it come in blue?"})
	for _, v := range []*viewerConn{ann, bob} {
		eventually(t, "the comment on both sockets", func() bool { return len(v.matching("comment", nil)) > 0 })
	}
	ann.send(t, "no.such.frame", "x1", map[string]any{})
	eventually(t, "the error frame", func() bool { return ann.reply("x1") != nil })

	var s scrape
	eventually(t, "the comment observed on both sockets, and the events in Kafka", func() bool {
		s = scrapeMetrics(t, n)
		return s.sum("kudos_ws_comment_fanout_seconds_count") >= 2 &&
			s.sum("kudos_eventsink_events_sent_total") >= 2 && s.sum("kudos_eventsink_spool_events") == 0
	})

	// Redis stops answering: the readiness check's PING times out and is counted as a Redis error.
	if got := s.sum("kudos_redis_errors_total"); got != 0 {
		t.Fatalf("kudos_redis_errors_total = %v before any fault, want 0: %v", got, s.samples)
	}
	rs.Pause(t)
	st := n.status("/readyz")
	rs.Resume(t)
	if st != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with Redis paused: %d, want 503", st)
	}
	s = scrapeMetrics(t, n)

	t.Run("metrics show the histograms", func(t *testing.T) {
		for _, h := range []string{
			"kudos_ws_comment_fanout_seconds", "kudos_http_request_duration_seconds", "kudos_redis_command_duration_seconds",
			"kudos_eventsink_spool_fsync_seconds", "kudos_eventsink_kafka_produce_seconds",
		} {
			if s.types[h] != "histogram" {
				t.Errorf("%s: type %q, want histogram", h, s.types[h])
			}
			if s.sum(h+"_bucket", `le="+Inf"`) != s.sum(h+"_count") {
				t.Errorf("%s: the +Inf buckets do not add up to the count", h)
			}
		}
		for _, g := range []string{"kudos_eventsink_spool_events", "kudos_eventsink_spool_oldest_age_seconds"} {
			if s.types[g] != "gauge" {
				t.Errorf("%s: type %q, want gauge", g, s.types[g])
			}
		}
		checks := []struct {
			what string
			got  float64
			ok   func(float64) bool
			want string
		}{
			// One comment, two viewer sockets: one observation each, nothing else timed.
			{"comment fan-out observations", s.sum("kudos_ws_comment_fanout_seconds_count"), func(v float64) bool { return v == 2 }, "2"},
			{"POST /api/v1/streams 201", s.sum("kudos_http_request_duration_seconds_count", `method="POST"`, `route="/api/v1/streams"`, `code="201"`), func(v float64) bool { return v == 1 }, "1"},
			{"socket upgrades", s.sum("kudos_http_request_duration_seconds_count", `route="/ws/streams/:id"`, `code="101"`), func(v float64) bool { return v == 2 }, "2"},
			{"the failed readiness check", s.sum("kudos_http_request_duration_seconds_count", `route="/readyz"`, `code="503"`), func(v float64) bool { return v == 1 }, "1"},
			{"Redis PINGs timed", s.sum("kudos_redis_command_duration_seconds_count", `command="ping"`), func(v float64) bool { return v >= 2 }, ">= 2 (startup, readiness)"},
			{"Redis scripts timed", s.sum("kudos_redis_command_duration_seconds_count", `command="evalsha"`), func(v float64) bool { return v >= 1 }, ">= 1"},
			{"Redis PING errors", s.sum("kudos_redis_errors_total", `command="ping"`), func(v float64) bool { return v >= 1 }, ">= 1"},
			{"spool group commits", s.sum("kudos_eventsink_spool_fsync_seconds_count"), func(v float64) bool { return v >= 1 }, ">= 1"},
			{"Kafka writes acknowledged", s.sum("kudos_eventsink_kafka_produce_seconds_count", `result="ok"`), func(v float64) bool { return v >= 1 }, ">= 1"},
			{"Kafka writes failed", s.sum("kudos_eventsink_kafka_produce_seconds_count", `result="error"`), func(v float64) bool { return v == 0 }, "0"},
			{"oldest unsent event's age", s.sum("kudos_eventsink_spool_oldest_age_seconds"), func(v float64) bool { return v == 0 }, "0 (drained)"},
		}
		for _, c := range checks {
			if !c.ok(c.got) {
				t.Errorf("%s: %v, want %s", c.what, c.got, c.want)
			}
		}
		// The access log: JSON lines with the route pattern, the tokens nowhere.
		var found bool
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "http request" {
				continue
			}
			if m["route"] == "/readyz" && m["status"] == float64(503) && m["request_id"] != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("no access log line for the failed readiness check:\n%s", logs.String())
		}
		for _, tok := range []string{host, annToken, bobToken} {
			if sig := tok[strings.LastIndex(tok, ".")+1:]; strings.Contains(logs.String(), sig) {
				t.Errorf("a token's signature is in the log")
			}
		}
	})

	t.Run("deploy files name exported metrics", func(t *testing.T) {
		queries := map[string][]string{} // file → the PromQL expressions in it
		exprs := dashboardQueries(t, "../../deploy/grafana/dashboards/kudos.json")
		if len(exprs) < 20 {
			t.Fatalf("found %d queries in the dashboard, want its 20+", len(exprs))
		}
		queries["dashboard"] = exprs
		rules := alertRules(t, "../../deploy/prometheus/alerts.yml")
		for _, r := range rules {
			queries["alert "+r.Alert] = append(queries["alert "+r.Alert], r.Expr)
		}
		names := regexp.MustCompile(`kudos_[a-z0-9_]+`)
		checked := map[string]bool{}
		for where, qs := range queries {
			for _, q := range qs {
				for _, name := range names.FindAllString(q, -1) {
					checked[name] = true
					if !s.exports(name) {
						t.Errorf("%s: %q names %s, which the server does not export", where, q, name)
					}
				}
			}
		}
		var list []string
		for name := range checked {
			list = append(list, name)
		}
		sort.Strings(list)
		t.Logf("%d dashboard queries and %d alert rules name %d metrics, all exported: %s", len(exprs), len(rules), len(list), strings.Join(list, " "))

		// The alerts the issue asks for, each on the metric that shows its trouble.
		for alert, metric := range map[string]string{
			"KudosEventSpoolBacklog": "kudos_eventsink_spool_oldest_age_seconds",
			"KudosKafkaUnreachable":  "kudos_eventsink_kafka_produce_seconds_count",
			"KudosWebSocketDrops":    "kudos_ws_drops_total",
			"KudosRedisErrors":       "kudos_redis_errors_total",
		} {
			var ok bool
			for _, r := range rules {
				ok = ok || (r.Alert == alert && strings.Contains(r.Expr, metric))
			}
			if !ok {
				t.Errorf("no alert %s on %s", alert, metric)
			}
		}
		// And the dashboard shows the key metrics.
		all := strings.Join(exprs, "\n")
		for _, metric := range []string{
			"kudos_ws_connections", "kudos_ws_drops_total", "kudos_eventsink_events_spooled_total", "kudos_eventsink_send_errors_total",
			"kudos_ws_comment_fanout_seconds_bucket", "kudos_http_request_duration_seconds_bucket", "kudos_redis_command_duration_seconds_bucket",
			"kudos_eventsink_spool_fsync_seconds_bucket", "kudos_eventsink_kafka_produce_seconds_bucket", "kudos_eventsink_spool_events",
			"kudos_eventsink_spool_oldest_age_seconds", "kudos_redis_errors_total",
		} {
			if !strings.Contains(all, metric) {
				t.Errorf("the dashboard has no panel on %s", metric)
			}
		}
	})
}

// dashboardQueries returns every PromQL expression of a Grafana dashboard: the panels' targets (nested rows
// included) and the template variables' queries.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition" || k == "query") {
					out = append(out, s)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// alertRules reads a Prometheus rule file and checks each rule's shape: a name, an expression, a duration,
// a severity and a summary.
func alertRules(t *testing.T, path string) []alertRule {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []alertRule
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.For == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: rule %+v lacks a name, expr, for, severity or summary", path, r)
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", path)
	}
	return out
}
