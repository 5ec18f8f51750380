package loyalty

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// playbookHTML writes the playbook set's HTML report to a file and returns its path and text.
func playbookHTML(t *testing.T) (string, string) {
	t.Helper()
	r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r, playbookLoc); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.String()
}

// TestHTMLSelfContained: the page names no address (nothing to fetch, no namespace either), runs no script
// and says what it shows in Chinese first.
func TestHTMLSelfContained(t *testing.T) {
	_, page := playbookHTML(t)
	for _, bad := range []string{"http:", "https:", "//", "<script", " src=", " href=", "url("} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("the report contains %q: …%s…", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	for _, want := range []string{"留存 Retention", "转化漏斗 Funnel", "用户分群 Segments", "A/B 分组对比 Arms comparison",
		"截至 As of 2026-02-11 22:00 CST (Asia/Shanghai)", "年货节 New Year sale · s-jan", "¥3800.00", "流失预警 Churn warnings (4)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// chromiumPath returns the browser to drive, skipping the test when there is none (failing it under CI),
// as the httpapi browser tests do.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI must install the chromium package")
	}
	t.Skip("chromium is not installed; set CI=true to make this a failure")
	return ""
}

// TestBrowserHTMLReport opens the playbook set's report in Chromium from the file and checks that every
// chart is drawn with its data: the retention curve's 31 points at their rates, the funnel's and the
// segments' bars with their counts and widths in proportion, the arms' six bars; no console error, no
// request but the page itself.
func TestBrowserHTMLReport(t *testing.T) {
	exe := chromiumPath(t)
	path, _ := playbookHTML(t)
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true))
	life, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		cancel()
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	var mu sync.Mutex
	var console []chromedp.ConsoleMessage
	done := make(chan struct{})
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m)
			mu.Unlock()
		}
	}()
	defer func() {
		cancel()
		<-done
		time.Sleep(100 * time.Millisecond) // let Chromium leave its profile before TempDir removes it
	}()

	step, cancelStep := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("#arms-chart"))); err != nil {
		t.Fatal(err)
	}
	attrs := func(sel string) []map[string]string {
		t.Helper()
		v, err := chromedp.Run(step, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll(`+"`"+sel+"`"+`)].map(e => {
			const o = {}; for (const a of e.attributes) o[a.name] = a.value;
			const b = e.getBoundingClientRect(); o.shownWidth = String(b.width); o.shownHeight = String(b.height);
			return o })`))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return v
	}
	curve := attrs("#retention-chart circle.pt")
	line := attrs("#retention-chart polyline.line")
	funnel := attrs("#funnel-chart rect.bar")
	segments := attrs("#segments-chart rect.bar")
	arms := attrs("#arms-chart rect.bar")
	chartSize, err := chromedp.Run(step, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("svg.chart")].map(s => s.getBoundingClientRect().width * s.getBoundingClientRect().height)`))
	if err != nil {
		t.Fatal(err)
	}
	fetched, err := chromedp.Run(step, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	if err != nil {
		t.Fatal(err)
	}
	polyline := ""
	if len(line) == 1 {
		polyline = line[0]["points"]
	}

	// The curve: day-N retention for N = 0..30, as TestPlaybookRetention works it out.
	wantCurve := map[string]string{"0": "1.0000", "1": "0.2400", "6": "0.0526", "7": "0.3158", "8": "0.1053",
		"9": "0.0526", "15": "0.0833", "30": "0.4000"}
	if len(curve) != 31 {
		t.Errorf("%d points on the retention curve, want 31", len(curve))
	}
	for _, p := range curve {
		want, ok := wantCurve[p["data-n"]]
		if !ok {
			want = "0.0000"
		}
		if p["data-rate"] != want || p["shownWidth"] == "0" {
			t.Errorf("curve point D+%s: rate %s (shown %s wide), want %s", p["data-n"], p["data-rate"], p["shownWidth"], want)
		}
	}
	if n := len(strings.Fields(polyline)); n != 31 {
		t.Errorf("the retention line has %d points, want 31", n)
	}
	checkBars(t, "funnel", funnel, []string{"24", "11", "4", "3"})         // viewers, participants, clickers, buyers
	checkBars(t, "segments", segments, []string{"3", "6", "10", "3", "3"}) // high value, new, active, at risk, churned
	if len(arms) != 6 {
		t.Errorf("%d bars in the arms chart, want 6 (3 rates × 2 arms)", len(arms))
	}
	wantArms := []string{"a 0.4615", "b 0.4545", "a 0.0769", "b 0.1818", "a 0.5000", "b 0.1111"}
	for i, b := range arms {
		if got := b["data-arm"] + " " + b["data-rate"]; i < len(wantArms) && (got != wantArms[i] || b["shownHeight"] == "0") {
			t.Errorf("arms bar %d: %s (shown %s high), want %s", i, got, b["shownHeight"], wantArms[i])
		}
	}
	if len(chartSize) != 4 {
		t.Errorf("%d charts, want 4", len(chartSize))
	}
	for i, area := range chartSize {
		if area < 10000 {
			t.Errorf("chart %d is drawn %.0f px² large", i, area)
		}
	}
	if len(fetched) > 0 {
		t.Errorf("the page fetched %v", fetched)
	}
	// On a phone (390 px wide) the page does not scroll sideways: the charts shrink, wide tables scroll
	// inside their box.
	if err := chromedp.Do(step, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(step, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth,
		document.querySelector("#retention-chart").getBoundingClientRect().width]`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow[0] > overflow[1] || overflow[2] < 200 || overflow[2] > overflow[1] {
		t.Errorf("on a phone: page %v px wide in a %v px window, retention chart %v px", overflow[0], overflow[1], overflow[2])
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			t.Errorf("console %s: %s", m.Type, m.Text)
		}
	}
}

var widthRE = regexp.MustCompile(`^[0-9.]+$`)

// checkBars checks bar values in order and that their widths are in proportion to them.
func checkBars(t *testing.T, chart string, bars []map[string]string, want []string) {
	t.Helper()
	if len(bars) != len(want) {
		t.Fatalf("%s: %d bars, want %d", chart, len(bars), len(want))
	}
	var maxW, maxV float64
	for _, b := range bars {
		var w, v float64
		fmt.Sscan(b["width"], &w)
		fmt.Sscan(b["data-value"], &v)
		if v > maxV {
			maxV, maxW = v, w
		}
	}
	for i, b := range bars {
		if b["data-value"] != want[i] || !widthRE.MatchString(b["width"]) {
			t.Errorf("%s bar %d: value %s width %s, want value %s", chart, i, b["data-value"], b["width"], want[i])
			continue
		}
		var w, v float64
		fmt.Sscan(b["width"], &w)
		fmt.Sscan(b["data-value"], &v)
		if diff := w - maxW*v/maxV; diff > 0.1 || diff < -0.1 || b["shownWidth"] == "0" {
			t.Errorf("%s bar %d: width %.1f (shown %s) for %v of %v, want %.1f", chart, i, w, b["shownWidth"], v, maxV, maxW*v/maxV)
		}
	}
}
