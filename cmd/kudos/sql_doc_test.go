package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kudos-live/kudos/cmd/internal/eventsink"
	"github.com/kudos-live/kudos/cmd/internal/loyalty"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
)

const sqlDocPath = "../../docs/sql.md"

// sqlDocBlocks returns the DuckDB blocks of docs/sql.md by name (a block is named by its first line,
// "-- duckdb: <name>") and its one kcat command.
func sqlDocBlocks(t *testing.T) (map[string]string, string) {
	t.Helper()
	f, err := os.Open(sqlDocPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	var kcat []string
	var lang string
	var block []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, lang, block = true, strings.TrimPrefix(line, "```"), nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			if len(block) == 0 {
				continue
			}
			if name, ok := strings.CutPrefix(block[0], "-- duckdb: "); ok && lang == "sql" {
				if _, dup := blocks[name]; dup {
					t.Fatalf("%s: two blocks named %s", sqlDocPath, name)
				}
				blocks[name] = strings.Join(block, "\n")
			}
			if lang == "sh" && strings.HasPrefix(block[0], "kcat ") {
				kcat = append(kcat, strings.Join(block, "\n"))
			}
		case in:
			block = append(block, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"load", "participation", "retention_d7"} {
		if blocks[name] == "" {
			t.Fatalf("%s has no sql block starting with -- duckdb: %s", sqlDocPath, name)
		}
	}
	if len(kcat) != 1 {
		t.Fatalf("%s has %d kcat blocks, want 1", sqlDocPath, len(kcat))
	}
	return blocks, kcat[0]
}

// duckdbPython returns a Python that imports duckdb: $KUDOS_TEST_DUCKDB_PYTHON (scripts/test.sh installs
// one under .cache/), else the one scripts/test.sh leaves in .cache/duckdb-venv, else python3. Without one
// the test skips, and fails under CI=true.
func duckdbPython(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("KUDOS_TEST_DUCKDB_PYTHON"), "../../.cache/duckdb-venv/bin/python", "python3"}
	var tried []string
	for _, py := range candidates {
		if py == "" {
			continue
		}
		if strings.Contains(py, "/") {
			abs, err := filepath.Abs(py) // it runs in another directory
			if err != nil {
				t.Fatal(err)
			}
			py = abs
		}
		out, err := exec.Command(py, "-c", "import duckdb; print(duckdb.__version__)").CombinedOutput()
		if err == nil {
			t.Logf("DuckDB %s (%s)", strings.TrimSpace(string(out)), py)
			return py
		}
		tried = append(tried, py)
	}
	msg := "no Python with the duckdb package (tried " + strings.Join(tried, ", ") + "): scripts/test.sh installs one, or set KUDOS_TEST_DUCKDB_PYTHON"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// duckdbRunner runs the blocks given as JSON on stdin in one DuckDB database, in the current directory,
// and prints each query's rows as JSON objects.
const duckdbRunner = `
import json, sys, duckdb
blocks = json.load(sys.stdin)
con = duckdb.connect()
con.execute(blocks["load"])
out = {"events": con.execute("SELECT count(*) FROM events").fetchone()[0]}
for name in ("participation", "retention_d7"):
    cur = con.execute(blocks[name])
    cols = [d[0] for d in cur.description]
    out[name] = [dict(zip(cols, row)) for row in cur.fetchall()]
print(json.dumps(out))
`

// sqlScenario runs twelve days of shows through the real engagement code, its events going through the
// real event sink to the topic. The times are chosen so that UTC days and business (Asia/Shanghai) days
// disagree where it matters: a viewer's return at 16:30 UTC of day 7 is day 8 in Shanghai, too late.
func sqlScenario(t *testing.T, brokers []string, topic string) {
	t.Helper()
	ctx := context.Background()
	day0 := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC) // 12:00 in Shanghai
	clk := testenv.NewClock(day0)
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := eventsink.New(ctx, eventsink.Config{
		Dir: t.TempDir(), Brokers: brokers, Topic: topic, Source: "kudos/node-sql",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := engagement.New(engagement.Config{Node: "node-sql", Now: clk.Now, CommentRate: rate.Inf, Ledger: ledger}, engagement.NewMemoryStore(), sink)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	host := engagement.Actor{User: "host-sql", Name: "Mei", Role: engagement.RoleHost}
	viewer := func(id string) engagement.Actor {
		return engagement.Actor{User: id, Name: id, Role: engagement.RoleViewer}
	}
	v1, v2, v3, v4, v5, v6 := viewer("v1"), viewer("v2"), viewer("v3"), viewer("v4"), viewer("v5"), viewer("v6")
	show := func(at time.Time, id string) {
		t.Helper()
		clk.Set(at)
		_, err := svc.CreateStream(ctx, host, engagement.StreamSpec{ID: id, Title: "Show " + id})
		must("create "+id, err)
		_, err = svc.Join(ctx, host, id)
		must("host joins "+id, err)
	}
	join := func(v engagement.Actor, stream string) {
		t.Helper()
		clk.Advance(time.Minute)
		_, err := svc.Join(ctx, v, stream)
		must(v.User+" joins "+stream, err)
	}
	comment := func(v engagement.Actor, stream string) {
		t.Helper()
		clk.Advance(time.Minute)
		_, err := svc.PostComment(ctx, v, stream, "hello from "+v.User)
		must(v.User+" comments on "+stream, err)
	}

	// Day 0: four viewers; three take part (a comment, a vote, a rating), one only watches.
	show(day0, "d0")
	for _, v := range []engagement.Actor{v1, v2, v3, v4} {
		join(v, "d0")
	}
	comment(v1, "d0")
	p, _, err := svc.OpenPoll(ctx, host, "d0", engagement.PollSpec{Question: "Which colour?", Options: []string{"Red", "Blue"}})
	must("open poll", err)
	clk.Advance(time.Minute)
	_, err = svc.Vote(ctx, v2, "d0", p.ID, 1)
	must("vote", err)
	_, err = svc.SendFeedback(ctx, v3, "d0", engagement.FeedbackRating, 4)
	must("rating", err)

	// Day 3: v1 is back (a return that day-7 retention does not count); v5 arrives and enters a draw, and is
	// never seen again.
	show(day0.Add(3*24*time.Hour), "d3")
	join(v1, "d3")
	join(v5, "d3")
	d, _, err := svc.OpenDraw(ctx, host, "d3", engagement.DrawSpec{Prize: "Scarf", Winners: 1, Eligible: engagement.DrawAll})
	must("open draw", err)
	_, err = svc.EnterDraw(ctx, v5, "d3", d.ID)
	must("enter draw", err)
	clk.Advance(time.Minute)
	_, _, err = svc.AskQuestion(ctx, v1, "d3", "Does it come in blue?")
	must("ask a question", err)

	// Day 7, 23:30 in Shanghai: v2 (and the host) are back on day 7 exactly (retained).
	show(day0.Add(7*24*time.Hour+11*time.Hour+29*time.Minute), "d7")
	join(v2, "d7")
	_, err = svc.AddProduct(ctx, host, "d7", engagement.Product{ID: "sku-1", Title: "Blue scarf", PriceFen: 9900, URL: "https://shop.example/sku-1"})
	must("add a product", err)
	_, err = svc.ClickProduct(ctx, v2, "d7", "sku-1")
	must("click the product", err)
	// Day 8 in Shanghai (16:30 UTC, still day 7 in UTC): v3 is back a day late (not retained), and comments.
	clk.Set(day0.Add(7*24*time.Hour + 12*time.Hour + 30*time.Minute))
	join(v3, "d7")
	comment(v3, "d7")

	// Day 12: a newcomer, whose window has not closed (not counted).
	show(day0.Add(12*24*time.Hour), "d12")
	join(v6, "d12")
	comment(v6, "d12")

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sink.Flush(ctx); err != nil {
		t.Fatalf("flush the sink to Kafka: %v", err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSQLQuickStartDuckDB runs docs/sql.md as written: its kcat command exports the topic the real server
// code wrote, and its DuckDB blocks compute participation and day-7 retention from that file, with some
// records delivered twice. The numbers must equal those of the sample consumer (cmd/internal/loyalty), an
// independent implementation in Go, fed the same file.
func TestSQLQuickStartDuckDB(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	blocks, kcatCmd := sqlDocBlocks(t)
	py := duckdbPython(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed (.ci/run installs it)")
		}
		t.Skip("kcat is not installed")
	}
	topic := "kudos.sql." + randomID("")
	sqlScenario(t, brokers, topic)

	// The doc's export, pointed at this broker and topic.
	if !strings.Contains(kcatCmd, "-b localhost:9092") || !strings.Contains(kcatCmd, "-t kudos.events") {
		t.Fatalf("the kcat command no longer names localhost:9092 and kudos.events: %s", kcatCmd)
	}
	cmdline := strings.NewReplacer("-b localhost:9092", "-b "+brokers[0], "-t kudos.events", "-t "+topic).Replace(kcatCmd)
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, out)
	}
	file := filepath.Join(dir, "events.jsonl")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) < 20 {
		t.Fatalf("kcat exported %d records, want the scenario's (20 or more):\n%s", len(lines), raw)
	}
	// At-least-once delivery: every third record arrives twice.
	var dups []string
	for i := 0; i < len(lines); i += 3 {
		dups = append(dups, lines[i])
	}
	all := append(slices.Clone(lines), dups...)
	if err := os.WriteFile(file, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The oracle: the sample consumer's aggregator over the same lines.
	agg := loyalty.NewAggregator()
	for _, l := range all {
		if _, err := agg.AddJSON([]byte(l)); err != nil {
			t.Fatalf("loyalty: %v\n%s", err, l)
		}
	}
	want := agg.Report(time.Time{})
	if want.Events != len(lines) || want.Duplicates != len(dups) {
		t.Fatalf("loyalty folded %d events and %d duplicates, want %d and %d", want.Events, want.Duplicates, len(lines), len(dups))
	}
	// The scenario must make the comparison mean something: a partial participation and a partial retention.
	if d7 := want.Retention.D7; d7.Users < 4 || d7.Retained == 0 || d7.Retained == d7.Users {
		t.Fatalf("the scenario's day-7 cohort is degenerate: %+v", d7)
	}
	// By hand from the scenario: the host and v1-v5 are the cohort (v6's window is open); the host and v2 are
	// back on their day 7, v3 only on day 8 in Shanghai (day 7 in UTC: a UTC-day count would say 3).
	if d7 := want.Retention.D7; d7.Users != 6 || d7.Retained != 2 {
		t.Fatalf("day-7 retention of the scenario: %d of %d, want 2 of 6", d7.Retained, d7.Users)
	}
	if o := want.Overall; o.Viewers < 4 || o.Participants == 0 || o.Participants == o.Viewers {
		t.Fatalf("the scenario's participation is degenerate: %+v", o)
	}

	input, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	run := exec.Command(py, "-c", duckdbRunner)
	run.Dir = dir
	run.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("DuckDB: %v\n%s", err, stderr.String())
	}
	var got struct {
		Events        int `json:"events"`
		Participation []struct {
			Stream       *string `json:"stream"`
			Viewers      int     `json:"viewers"`
			Participants int     `json:"participants"`
			Rate         float64 `json:"participation_rate"`
		} `json:"participation"`
		Retention []struct {
			Users    int     `json:"users"`
			Retained int     `json:"retained"`
			Rate     float64 `json:"rate"`
		} `json:"retention_d7"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("DuckDB output: %v\n%s", err, out)
	}
	t.Logf("DuckDB: %s", out)

	if got.Events != want.Events {
		t.Errorf("DuckDB loaded %d distinct events, loyalty %d", got.Events, want.Events)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.00005+1e-9 } // the SQL rounds to 4 places
	wantStreams := map[string]loyalty.StreamMetrics{}
	for _, s := range want.Streams {
		if s.Viewers > 0 {
			wantStreams[s.Stream] = s
		}
	}
	var overall bool
	for _, row := range got.Participation {
		if row.Stream == nil {
			overall = true
			o := want.Overall
			if row.Viewers != o.Viewers || row.Participants != o.Participants || !near(row.Rate, o.ParticipationRate) {
				t.Errorf("overall participation: DuckDB %d of %d (%.4f), loyalty %d of %d (%.4f)",
					row.Participants, row.Viewers, row.Rate, o.Participants, o.Viewers, o.ParticipationRate)
			}
			continue
		}
		w, ok := wantStreams[*row.Stream]
		if !ok {
			t.Errorf("DuckDB has stream %q, loyalty has no viewers there", *row.Stream)
			continue
		}
		delete(wantStreams, *row.Stream)
		if row.Viewers != w.Viewers || row.Participants != w.Participants || !near(row.Rate, w.ParticipationRate) {
			t.Errorf("stream %s: DuckDB %d of %d (%.4f), loyalty %d of %d (%.4f)",
				*row.Stream, row.Participants, row.Viewers, row.Rate, w.Participants, w.Viewers, w.ParticipationRate)
		}
	}
	if !overall {
		t.Error("DuckDB's participation has no overall row")
	}
	for s := range wantStreams {
		t.Errorf("DuckDB's participation lacks stream %s", s)
	}
	if len(got.Retention) != 1 {
		t.Fatalf("DuckDB's retention has %d rows, want 1", len(got.Retention))
	}
	r, w := got.Retention[0], want.Retention.D7
	if r.Users != w.Users || r.Retained != w.Retained || !near(r.Rate, w.Rate) {
		t.Errorf("day-7 retention: DuckDB %d of %d (%.4f), loyalty %d of %d (%.4f)", r.Retained, r.Users, r.Rate, w.Retained, w.Users, w.Rate)
	}
}
