package bench

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// scenarioFailed marks a run of scripts/bench.sh that did not report.
const scenarioFailed = "failed"

// SLOp99 is the latency bound of the capacity at SLO (issue 18): p99 send-to-screen ≤ 250 ms.
const SLOp99 = 250.0

// Result is one run of scripts/bench.sh: a kudos-bench JSON line labelled with its set (capacity, small,
// idle, join, join-redis, votes, twonode, overload) and run number.
type Result struct {
	Set string `json:"set"`
	Run int    `json:"run"`
	Report
}

// ReadResults reads the JSON lines that scripts/bench.sh writes (one Result a line; blank lines skipped).
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("results line %d: %w", n, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// meetsSLO reports whether a fan-out run delivered every comment to every viewer with p99 ≤ 250 ms.
func (r Result) meetsSLO() bool {
	return r.allDelivered() && r.P99 <= SLOp99
}

func (r Result) allDelivered() bool {
	return r.Scenario == ScenarioFanout && r.Connected == r.Viewers && r.Viewers > 0 && r.Missing == 0 &&
		r.Dropped == 0 && r.DialErrors == 0 && r.CommentsAcked > 0
}

// Step is one viewer count of the capacity sweep: its runs and their medians.
type Step struct {
	Viewers      int
	Runs         []Result
	PerSec       float64 // median deliveries/s
	Expected     float64 // viewers × comments/s
	P50, P99     float64 // median ms
	MeetsSLO     bool    // in most runs (so in the median run)
	AllDelivered bool    // every comment to every viewer in most runs
}

// Steps groups the runs of set by viewer count, in increasing order.
func Steps(results []Result, set string) []Step {
	by := map[int][]Result{}
	for _, r := range results {
		if r.Set == set {
			by[r.Viewers] = append(by[r.Viewers], r)
		}
	}
	var steps []Step
	for v, runs := range by {
		s := Step{Viewers: v, Runs: runs}
		s.PerSec = median(runs, func(r Result) float64 { return r.PerSec })
		s.P50 = median(runs, func(r Result) float64 { return r.P50 })
		s.P99 = median(runs, func(r Result) float64 { return r.P99 })
		s.Expected = median(runs, func(r Result) float64 { return r.Rate * float64(r.Viewers) })
		s.MeetsSLO = majority(runs, Result.meetsSLO)
		s.AllDelivered = majority(runs, Result.allDelivered)
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Viewers < steps[j].Viewers })
	return steps
}

// CapacityAtSLO is the largest step that met the SLO (0 when none did).
func CapacityAtSLO(steps []Step) int {
	c := 0
	for _, s := range steps {
		if s.MeetsSLO {
			c = max(c, s.Viewers)
		}
	}
	return c
}

func majority(runs []Result, ok func(Result) bool) bool {
	n := 0
	for _, r := range runs {
		if ok(r) {
			n++
		}
	}
	return 2*n > len(runs)
}

// median of f over the runs that reported (the lower middle one for an even count, so a figure is always
// one a run had). A failed run has no figures; it still counts against the SLO (majority).
func median(runs []Result, f func(Result) float64) float64 {
	var v []float64
	for _, r := range runs {
		if r.Scenario != scenarioFailed {
			v = append(v, f(r))
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[(len(v)-1)/2]
}

func joinRuns(runs []Result, f func(Result) string) string {
	parts := make([]string, len(runs))
	sorted := slices.Clone(runs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Run < sorted[j].Run })
	for i, r := range sorted {
		if r.Scenario == scenarioFailed {
			parts[i] = "failed"
			continue
		}
		parts[i] = f(r)
	}
	return strings.Join(parts, " / ")
}

func loads(runs []Result) string {
	return joinRuns(runs, func(r Result) string {
		if f := strings.Fields(r.Load); len(f) > 0 {
			return f[0]
		}
		return "?"
	})
}

// runsOf returns the runs of set.
func runsOf(results []Result, set string) []Result {
	var out []Result
	for _, r := range results {
		if r.Set == set {
			out = append(out, r)
		}
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteTables writes the markdown tables of scripts/bench.sh's results: the capacity sweep and the capacity
// at SLO, the small room, idle memory, the join storm (in memory and on Redis), the vote storm and two nodes. Each figure is the median of its runs, the runs
// listed in order (run 1 / run 2 / …) with the 1-minute load average before each.
func WriteTables(w io.Writer, results []Result) error {
	var b strings.Builder
	if steps := Steps(results, "capacity"); len(steps) > 0 {
		b.WriteString("### Capacity sweep (20 comments/s, 40 posting users)\n\n")
		b.WriteString("| viewers | deliveries/s (expected) | p50 ms | p99 ms | all delivered | p99 ≤ 250 ms and all delivered | runs: deliveries/s; p99 ms; missing | load before |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, s := range steps {
			fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s | %s; %s; %s | %s |\n",
				thousands(float64(s.Viewers)), thousands(s.PerSec), thousands(s.Expected), ms(s.P50), ms(s.P99),
				yesNo(s.AllDelivered), yesNo(s.MeetsSLO),
				joinRuns(s.Runs, func(r Result) string { return thousands(r.PerSec) }),
				joinRuns(s.Runs, func(r Result) string { return ms(r.P99) }),
				joinRuns(s.Runs, func(r Result) string { return fmt.Sprint(r.Missing) }),
				loads(s.Runs))
		}
		c := CapacityAtSLO(steps)
		fmt.Fprintf(&b, "\n**Capacity at SLO: %s viewers × 20 comments/s** (largest step where the median run delivered every comment to every viewer with p99 ≤ 250 ms; steps %s to %s).\n\n",
			thousands(float64(c)), thousands(float64(steps[0].Viewers)), thousands(float64(steps[len(steps)-1].Viewers)))
	}
	if runs := runsOf(results, "small"); len(runs) > 0 {
		b.WriteString("### Small room (2,000 viewers × 20 comments/s)\n\n")
		b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| p50 ms | %s | %s | %s |\n", ms(median(runs, func(r Result) float64 { return r.P50 })), joinRuns(runs, func(r Result) string { return ms(r.P50) }), loads(runs))
		fmt.Fprintf(&b, "| p99 ms | %s | %s | |\n", ms(median(runs, func(r Result) float64 { return r.P99 })), joinRuns(runs, func(r Result) string { return ms(r.P99) }))
		fmt.Fprintf(&b, "| deliveries/s | %s | %s | |\n", thousands(median(runs, func(r Result) float64 { return r.PerSec })), joinRuns(runs, func(r Result) string { return thousands(r.PerSec) }))
		fmt.Fprintf(&b, "| missing | %s | %s | |\n\n", thousands(median(runs, func(r Result) float64 { return float64(r.Missing) })), joinRuns(runs, func(r Result) string { return fmt.Sprint(r.Missing) }))
	}
	if runs := runsOf(results, "idle"); len(runs) > 0 {
		fmt.Fprintf(&b, "### Idle memory (%s idle sockets)\n\n", thousands(float64(runs[0].Viewers)))
		b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| RSS per connection, KiB | %.1f | %s | %s |\n", median(runs, func(r Result) float64 { return r.RSSPerConn / 1024 }),
			joinRuns(runs, func(r Result) string { return fmt.Sprintf("%.1f", r.RSSPerConn/1024) }), loads(runs))
		fmt.Fprintf(&b, "| server RSS after, MiB | %.0f | %s | |\n", median(runs, func(r Result) float64 { return mib(r.RSSAfter) }),
			joinRuns(runs, func(r Result) string { return fmt.Sprintf("%.0f", mib(r.RSSAfter)) }))
		fmt.Fprintf(&b, "| sockets connected | %s | %s | |\n\n", thousands(median(runs, func(r Result) float64 { return float64(r.Connected) })),
			joinRuns(runs, func(r Result) string { return thousands(float64(r.Connected)) }))
	}
	writeJoinTable(&b, runsOf(results, "join"), "")
	writeJoinTable(&b, runsOf(results, "join-redis"), ", state on Redis")
	if runs := runsOf(results, "votes"); len(runs) > 0 {
		fmt.Fprintf(&b, "### Vote storm (%s viewers vote at once, 4 options)\n\n", thousands(float64(runs[0].Viewers)))
		b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| first vote → last ack, s | %.2f | %s | %s |\n", median(runs, func(r Result) float64 { return r.VoteSpan / 1000 }),
			joinRuns(runs, func(r Result) string { return fmt.Sprintf("%.2f", r.VoteSpan/1000) }), loads(runs))
		fmt.Fprintf(&b, "| votes acked | %s | %s | |\n", thousands(median(runs, func(r Result) float64 { return float64(r.VotesAcked) })),
			joinRuns(runs, func(r Result) string { return thousands(float64(r.VotesAcked)) }))
		fmt.Fprintf(&b, "| tally exact | %s | %s | |\n\n", yesNo(majority(runs, Result.tallyExact)),
			joinRuns(runs, func(r Result) string { return yesNo(r.tallyExact()) }))
	}
	if runs := runsOf(results, "twonode"); len(runs) > 0 {
		fmt.Fprintf(&b, "### Two nodes on one Redis (%s viewers × %s comments/s)\n\n", thousands(float64(runs[0].Viewers)), thousands(runs[0].Rate))
		b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| deliveries/s | %s | %s | %s |\n", thousands(median(runs, func(r Result) float64 { return r.PerSec })), joinRuns(runs, func(r Result) string { return thousands(r.PerSec) }), loads(runs))
		fmt.Fprintf(&b, "| p50 ms | %s | %s | |\n", ms(median(runs, func(r Result) float64 { return r.P50 })), joinRuns(runs, func(r Result) string { return ms(r.P50) }))
		fmt.Fprintf(&b, "| p99 ms | %s | %s | |\n", ms(median(runs, func(r Result) float64 { return r.P99 })), joinRuns(runs, func(r Result) string { return ms(r.P99) }))
		fmt.Fprintf(&b, "| missing | %s | %s | |\n", thousands(median(runs, func(r Result) float64 { return float64(r.Missing) })), joinRuns(runs, func(r Result) string { return fmt.Sprint(r.Missing) }))
		fmt.Fprintf(&b, "| dropped | %s | %s | |\n\n", thousands(median(runs, func(r Result) float64 { return float64(r.Dropped) })), joinRuns(runs, func(r Result) string { return fmt.Sprint(r.Dropped) }))
	}
	writeOverloadTable(&b, results)
	writeKafkaTable(&b, results)
	n := 0
	for _, r := range results {
		if r.Scenario == scenarioFailed {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(&b, "%d runs failed (no report; see the script's stderr).\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tallyExact: a vote storm whose final tally equals the acked votes, every vote sent acked.
func (r Result) tallyExact() bool {
	return r.Scenario == ScenarioVotes && r.TallyExact && r.VotesAcked == r.VotesSent && r.VotesAcked > 0
}

// writeJoinTable writes the join storm's table for runs (nothing when there are none); what tells the set
// apart in the title.
func writeJoinTable(b *strings.Builder, runs []Result, what string) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(b, "### Join storm (%s viewers, 64 dials at once%s)\n\n", thousands(float64(runs[0].Viewers)), what)
	b.WriteString("| figure | median | runs | load before |\n|---|---|---|---|\n")
	fmt.Fprintf(b, "| joins/s | %s | %s | %s |\n", thousands(median(runs, func(r Result) float64 { return r.JoinsPerSec })),
		joinRuns(runs, func(r Result) string { return thousands(r.JoinsPerSec) }), loads(runs))
	fmt.Fprintf(b, "| sockets welcomed | %s | %s | |\n\n", thousands(median(runs, func(r Result) float64 { return float64(r.Connected) })),
		joinRuns(runs, func(r Result) string { return thousands(float64(r.Connected)) }))
}

func ms(v float64) string {
	if v >= 100 {
		return thousands(v)
	}
	return fmt.Sprintf("%.1f", v)
}

// thousands formats v rounded, with commas.
func thousands(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// writeOverloadTable writes the overload set's table: past capacity the server skips chat (and only chat),
// telling each viewer how many in chat.skipped frames; how much of the chat a viewer got, and how late what
// arrived was. One row per viewers × rate; nothing when there are no overload runs.
func writeOverloadTable(b *strings.Builder, results []Result) {
	by := map[[2]float64][]Result{}
	for _, r := range results {
		if r.Set == "overload" {
			k := [2]float64{float64(r.Viewers), r.Rate}
			by[k] = append(by[k], r)
		}
	}
	if len(by) == 0 {
		return
	}
	keys := slices.Collect(maps.Keys(by))
	slices.SortFunc(keys, func(a, b [2]float64) int {
		if c := cmp.Compare(a[0]*a[1], b[0]*b[1]); c != 0 {
			return c
		}
		return cmp.Compare(a[0], b[0])
	})
	b.WriteString("### Overload (40 posting users, past capacity)\n\n")
	b.WriteString("| viewers × comments/s | deliveries/s offered | chat delivered (share) | chat skipped, told to viewers | not accounted for | p50 ms | p99 ms of what arrived | dropped | runs: share; p99 ms | load before |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		runs := by[k]
		med := func(f func(Result) float64) float64 { return median(runs, f) }
		fmt.Fprintf(b, "| %s × %s | %s | %s (%.1f%%) | %s | %s | %s | %s | %s | %s; %s | %s |\n",
			thousands(k[0]), thousands(k[1]), thousands(k[0]*k[1]),
			thousands(med(func(r Result) float64 { return float64(r.Deliveries) })), med(func(r Result) float64 { return r.DeliveredShare })*100,
			thousands(med(func(r Result) float64 { return float64(r.ChatSkipped) })),
			thousands(med(func(r Result) float64 { return float64(r.Missing - r.ChatSkipped) })),
			ms(med(func(r Result) float64 { return r.P50 })), ms(med(func(r Result) float64 { return r.P99 })),
			thousands(med(func(r Result) float64 { return float64(r.Dropped) })),
			joinRuns(runs, func(r Result) string { return fmt.Sprintf("%.3f", r.DeliveredShare) }),
			joinRuns(runs, func(r Result) string { return ms(r.P99) }),
			loads(runs))
	}
	b.WriteString("\n")
}
