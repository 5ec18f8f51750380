package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// methodResults is a results file as scripts/bench.sh writes it: three steps of 3 runs (the last misses the
// SLO on latency, the second step has one run that lost comments), a small room, idle and join runs.
const methodResults = `
{"set":"capacity","run":1,"scenario":"fanout","viewers":1000,"connected":1000,"rate":20,"comments_acked":400,"deliveries_per_s":20000,"p50_ms":20,"p99_ms":60,"load_before":"0.5 0.4 0.3"}
{"set":"capacity","run":2,"scenario":"fanout","viewers":1000,"connected":1000,"rate":20,"comments_acked":400,"deliveries_per_s":19900,"p50_ms":22,"p99_ms":70,"load_before":"0.6 0.4 0.3"}
{"set":"capacity","run":3,"scenario":"fanout","viewers":1000,"connected":1000,"rate":20,"comments_acked":400,"deliveries_per_s":20100,"p50_ms":21,"p99_ms":65,"load_before":"0.7 0.4 0.3"}
{"set":"capacity","run":1,"scenario":"fanout","viewers":2000,"connected":2000,"rate":20,"comments_acked":400,"deliveries_per_s":40000,"p50_ms":30,"p99_ms":200,"load_before":"1.0 0.4 0.3"}
{"set":"capacity","run":2,"scenario":"fanout","viewers":2000,"connected":2000,"rate":20,"comments_acked":400,"deliveries_per_s":39000,"p50_ms":31,"p99_ms":240,"missing":12,"load_before":"1.1 0.4 0.3"}
{"set":"capacity","run":3,"scenario":"fanout","viewers":2000,"connected":2000,"rate":20,"comments_acked":400,"deliveries_per_s":40100,"p50_ms":29,"p99_ms":210,"load_before":"1.2 0.4 0.3"}

{"set":"capacity","run":1,"scenario":"fanout","viewers":3000,"connected":3000,"rate":20,"comments_acked":400,"deliveries_per_s":60000,"p50_ms":120,"p99_ms":900,"load_before":"1.3 0.4 0.3"}
{"set":"capacity","run":2,"scenario":"fanout","viewers":3000,"connected":3000,"rate":20,"comments_acked":400,"deliveries_per_s":58000,"p50_ms":130,"p99_ms":1100,"load_before":"1.4 0.4 0.3"}
{"set":"capacity","run":3,"scenario":"fanout","viewers":3000,"connected":3000,"rate":20,"comments_acked":400,"deliveries_per_s":59000,"p50_ms":110,"p99_ms":240,"load_before":"1.5 0.4 0.3"}
{"set":"small","run":1,"scenario":"fanout","viewers":2000,"connected":2000,"rate":20,"comments_acked":400,"deliveries_per_s":40000,"p50_ms":25,"p99_ms":81.5,"load_before":"0.2 0.4 0.3"}
{"set":"idle","run":1,"scenario":"idle","viewers":15000,"connected":15000,"server_rss_after":367001600,"server_rss_per_conn":23347.2,"load_before":"0.3 0.4 0.3"}
{"set":"join","run":1,"scenario":"idle","viewers":15000,"connected":15000,"joins_per_s":1939.4,"load_before":"0.4 0.4 0.3"}
{"set":"join","run":2,"scenario":"failed","viewers":15000}
`

func TestMethodStepsAndCapacity(t *testing.T) {
	res, err := ReadResults(strings.NewReader(methodResults))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 13 {
		t.Fatalf("read %d results, want 13", len(res))
	}
	steps := Steps(res, "capacity")
	if len(steps) != 3 || steps[0].Viewers != 1000 || steps[2].Viewers != 3000 {
		t.Fatalf("steps %+v", steps)
	}
	if s := steps[0]; s.PerSec != 20000 || s.P50 != 21 || s.P99 != 65 || s.Expected != 20000 || !s.MeetsSLO {
		t.Errorf("step 1,000: %+v, want medians 20000/s, p50 21, p99 65, SLO met", s)
	}
	// One of three runs lost comments: the median run still delivered everything.
	if s := steps[1]; !s.MeetsSLO || !s.AllDelivered || s.P99 != 210 {
		t.Errorf("step 2,000: %+v, want SLO met (2 of 3 runs), p99 210", s)
	}
	if s := steps[2]; s.MeetsSLO || s.P99 != 900 {
		t.Errorf("step 3,000: %+v, want SLO missed (p99 900 in the median run)", s)
	}
	if c := CapacityAtSLO(steps); c != 2000 {
		t.Errorf("capacity at SLO %d, want 2000", c)
	}

	var md bytes.Buffer
	if err := WriteTables(&md, res); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	wantInTables(t, out,
		"**Capacity at SLO: 2,000 viewers × 20 comments/s**",
		"| 3,000 | 59,000 (60,000) | 120 | 900 | yes | no | 60,000 / 58,000 / 59,000; 900 / 1,100 / 240; 0 / 0 / 0 | 1.3 / 1.4 / 1.5 |",
		"| p99 ms | 81.5 | 81.5 |",
		"| RSS per connection, KiB | 22.8 |",
		"| joins/s | 1,939 | 1,939 / failed | 0.4 / failed |",
		"1 runs failed",
	)
}

// TestMethodTablesRedisVotesTwoNode: the join storm on Redis, the vote storm and two nodes get their tables;
// a vote run whose tally is off, or that lost a vote, is not exact.
func TestMethodTablesRedisVotesTwoNode(t *testing.T) {
	const lines = `
{"set":"join-redis","run":1,"scenario":"idle","viewers":15000,"connected":15000,"joins_per_s":3100.2,"load_before":"0.9 0.4 0.3"}
{"set":"join-redis","run":2,"scenario":"idle","viewers":15000,"connected":14990,"joins_per_s":2900,"load_before":"1.0 0.4 0.3"}
{"set":"votes","run":1,"scenario":"votes","viewers":15000,"votes_sent":15000,"votes_acked":15000,"vote_span_ms":1870,"tally_exact":true,"load_before":"0.5 0.4 0.3"}
{"set":"votes","run":2,"scenario":"votes","viewers":15000,"votes_sent":15000,"votes_acked":14999,"vote_span_ms":2400,"tally_exact":true,"load_before":"0.6 0.4 0.3"}
{"set":"votes","run":3,"scenario":"votes","viewers":15000,"votes_sent":15000,"votes_acked":15000,"vote_span_ms":1740,"tally_exact":false,"load_before":"0.7 0.4 0.3"}
{"set":"twonode","run":1,"scenario":"twonode","viewers":15000,"connected":15000,"rate":20,"deliveries_per_s":110000,"p50_ms":3801,"p99_ms":15466,"missing":12,"load_before":"1.5 0.4 0.3"}
`
	out := tablesOf(t, lines)
	wantInTables(t, out,
		"### Join storm (15,000 viewers, 64 dials at once, state on Redis)",
		"| joins/s | 2,900 | 3,100 / 2,900 | 0.9 / 1.0 |",
		"| sockets welcomed | 14,990 | 15,000 / 14,990 | |",
		"### Vote storm (15,000 viewers vote at once, 4 options)",
		"| first vote → last ack, s | 1.87 | 1.87 / 2.40 / 1.74 | 0.5 / 0.6 / 0.7 |",
		"| votes acked | 15,000 | 15,000 / 14,999 / 15,000 | |",
		"| tally exact | no | yes / no / no | |",
		"### Two nodes on one Redis (15,000 viewers × 20 comments/s)",
		"| deliveries/s | 110,000 | 110,000 | 1.5 |",
		"| p99 ms | 15,466 | 15,466 | |",
		"| missing | 12 | 12 | |",
	)
	if strings.Contains(out, "### Join storm (15,000 viewers, 64 dials at once)") {
		t.Errorf("the Redis join runs were also tabled as the memory join storm:\n%s", out)
	}
}

func TestReadResultsRefusesGarbage(t *testing.T) {
	if _, err := ReadResults(strings.NewReader("{\"set\":\"capacity\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want an error naming line 2", err)
	}
}

func TestWriteSVGParsesAndHasThePoints(t *testing.T) {
	res, err := ReadResults(strings.NewReader(methodResults))
	if err != nil {
		t.Fatal(err)
	}
	steps := Steps(res, "capacity")
	var buf bytes.Buffer
	if err := WriteSVG(&buf, steps); err != nil {
		t.Fatal(err)
	}
	type point struct{ viewers, value float64 }
	got := map[string][]point{}
	dec := xml.NewDecoder(&buf)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = el.Name.Space + " " + el.Name.Local
		}
		if el.Name.Local != "circle" {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
		}
		v, err1 := strconv.ParseFloat(attr["data-viewers"], 64)
		x, err2 := strconv.ParseFloat(attr["data-value"], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("circle without data-viewers/data-value: %v", attr)
		}
		got[attr["class"]] = append(got[attr["class"]], point{v, x})
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want svg in the SVG namespace", root)
	}
	want := map[string][]point{
		"p50": {{1000, 21}, {2000, 30}, {3000, 120}},
		"p99": {{1000, 65}, {2000, 210}, {3000, 900}},
		"dps": {{1000, 20000}, {2000, 40000}, {3000, 59000}},
	}
	for class, pts := range want {
		if len(got[class]) != len(pts) {
			t.Errorf("%s: %d points %v, want %v", class, len(got[class]), got[class], pts)
			continue
		}
		for i, p := range pts {
			if got[class][i] != p {
				t.Errorf("%s point %d = %v, want %v", class, i, got[class][i], p)
			}
		}
	}
}

func TestWriteSVGWithoutRunsIsStillSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSVG(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), new(struct{})); err != nil {
		t.Fatalf("empty SVG is not XML: %v", err)
	}
}

// tablesOf returns the markdown tables of the results in lines (JSON lines, as bench.sh writes them).
func tablesOf(t *testing.T, lines string) string {
	t.Helper()
	res, err := ReadResults(strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := WriteTables(&md, res); err != nil {
		t.Fatal(err)
	}
	return md.String()
}

// wantInTables fails t for each want that the tables out do not contain.
func wantInTables(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
}
