package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/kudos-live/kudos/engagement"
)

const (
	// browserStep bounds one wait or action in a tab.
	browserStep = 15 * time.Second
	// browserLife bounds a whole browser, as a backstop for a test that hangs between steps.
	browserLife = 60 * time.Second
)

// chromiumPath returns the browser to drive, skipping the test when there is none (failing it under CI).
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

// browser is one headless Chromium for one test; each tab lives in its own browser context, so that tabs
// share no storage, as two people on two phones would not.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	tabs []*tab
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	profile, err := os.MkdirTemp("", "kudos-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAllRetry(profile) })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The pages follow the browser's language (static/assets/i18n.js); the tests read the English
		// catalogue's text unless they ask for a language with ?lang=.
		chromedp.Flag("lang", "en-US"),
	)
	life, stopLife := context.WithTimeout(context.Background(), browserLife)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		b.closeTabs()
		done, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Cancel(done); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing chromium: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
		stopLife()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		t.Fatalf("start chromium %s: %v", execPath, err)
	}
	t.Cleanup(b.captureOnFailure) // runs first: the tabs are still open
	return b
}

// removeAllRetry removes dir; Chromium's helpers may still write into its profile for a moment after exit.
func removeAllRetry(dir string) {
	for range 50 {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tab is one page in its own browser context, with everything it printed to its console.
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the console reader has stopped

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// open opens url in a new tab named name (used in failure messages and artifact names).
func (b *browser) open(name, url string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &tab{t: b.t, name: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	b.mu.Lock()
	b.tabs = append(b.tabs, p)
	b.mu.Unlock()
	if err := chromedp.Do(ctx); err != nil { // creates the tab
		close(p.done)
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(p.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	p.do("navigate to "+url, chromedp.Navigate(url))
	return p
}

func (b *browser) closeTabs() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.tabs {
		p.cancel()
		<-p.done
	}
}

// captureOnFailure saves a full-page screenshot and the console of every tab when the test has failed.
func (b *browser) captureOnFailure() {
	t := b.t
	if !t.Failed() {
		return
	}
	dir := os.Getenv("KUDOS_TEST_ARTIFACTS")
	var err error
	if dir != "" {
		dir = filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "kudos-browser-artifacts-")
	}
	if err != nil {
		t.Logf("no artifacts directory: %v", err)
		return
	}
	b.mu.Lock()
	tabs := append([]*tab(nil), b.tabs...)
	b.mu.Unlock()
	for _, p := range tabs {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		// A tab in the background does not run its animations; bring it to the front first.
		if c := chromedp.FromContext(ctx); c != nil && c.Target != nil {
			_, _ = chromedp.CallBrowser(ctx, target.ActivateTarget, target.ActivateTargetParams{TargetID: c.Target.TargetID})
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Logf("screenshot of tab %s: %v", p.name, err)
		} else if path := filepath.Join(dir, p.name+".png"); os.WriteFile(path, png, 0o644) == nil {
			t.Logf("screenshot of tab %s: %s", p.name, path)
		}
		var log strings.Builder
		for _, m := range p.messages() {
			fmt.Fprintf(&log, "%s [%s] %s (%s:%d)\n", m.Time.Format(time.TimeOnly), m.Type, m.Text, m.URL, m.Line+1)
			if m.Type == chromedp.ConsoleError || m.IsException() {
				t.Logf("tab %s console %s: %s", p.name, m.Type, m.Text)
			}
		}
		if path := filepath.Join(dir, p.name+".console.txt"); os.WriteFile(path, []byte(log.String()), 0o644) == nil {
			t.Logf("console of tab %s: %s", p.name, path)
		}
	}
}

func (p *tab) messages() []chromedp.ConsoleMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), p.console...)
}

// noExceptions fails the test if the page threw an exception nobody caught.
func (p *tab) noExceptions() {
	p.t.Helper()
	for _, m := range p.messages() {
		if m.IsException() {
			p.t.Errorf("tab %s: uncaught exception: %s (%s:%d)", p.name, m.Text, m.URL, m.Line+1)
		}
	}
}

// do runs actions within one step's time limit.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("tab %s: %s: %v", p.name, what, err)
	}
}

// click waits for sel to be visible and enabled, then clicks its centre with the mouse. A page that renders
// the element again between the two (a list redrawn on a live update) detaches the node found first: it is
// then found again, until browserStep.
func (p *tab) click(sel string) {
	p.t.Helper()
	deadline := time.Now().Add(browserStep)
	for {
		ctx, cancel := context.WithDeadline(p.ctx, deadline)
		err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "Could not find node") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.t.Fatalf("tab %s: click %s: %v", p.name, sel, err)
	}
}

// typeText types text into sel key by key.
func (p *tab) typeText(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// fill replaces the value of the form field sel (the panel reads fields when a button is clicked).
func (p *tab) fill(sel, value string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
}

// eval evaluates a JavaScript expression into v's type.
func evalIn[T any](p *tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, browserStep)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// textOf returns the text content of the first element matching sel, and whether there is one.
func (p *tab) textOf(sel string) (string, bool, error) {
	v, err := evalIn[*string](p, `(() => { const el = document.querySelector(`+jsString(sel)+`); return el ? el.textContent : null })()`)
	if err != nil || v == nil {
		return "", false, err
	}
	return strings.Join(strings.Fields(*v), " "), true, nil
}

// waitUntil polls check until it reports done, or fails the test with its last description.
func (p *tab) waitUntil(what string, check func() (done bool, last string, err error)) {
	p.t.Helper()
	deadline := time.Now().Add(browserStep)
	var last string
	for {
		done, got, err := check()
		if err != nil {
			got = "error: " + err.Error()
		}
		if done {
			return
		}
		last = got
		if time.Now().After(deadline) {
			p.t.Fatalf("tab %s: waited %s for %s; last saw %s", p.name, browserStep, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor waits until an element matches sel.
func (p *tab) waitFor(sel string) {
	p.t.Helper()
	p.waitUntil(sel, func() (bool, string, error) {
		ok, err := evalIn[bool](p, `!!document.querySelector(`+jsString(sel)+`)`)
		return ok, "no such element", err
	})
}

// waitText waits until the text of the first element matching sel contains want (whitespace collapsed).
func (p *tab) waitText(sel, want string) {
	p.t.Helper()
	p.waitUntil(fmt.Sprintf("%s to contain %q", sel, want), func() (bool, string, error) {
		got, ok, err := p.textOf(sel)
		if !ok {
			return false, "no such element", err
		}
		return strings.Contains(got, want), strconv.Quote(got), err
	})
}

// waitNumber waits until the data-value of sel satisfies ok, and returns it.
func (p *tab) waitNumber(sel, what string, ok func(n int64) bool) int64 {
	p.t.Helper()
	var n int64
	p.waitUntil(fmt.Sprintf("%s to be %s", sel, what), func() (bool, string, error) {
		v, err := evalIn[*string](p, `(() => { const el = document.querySelector(`+jsString(sel)+`); return el ? (el.dataset.value ?? null) : null })()`)
		if err != nil || v == nil {
			return false, "no element with a data-value", err
		}
		got, perr := strconv.ParseInt(*v, 10, 64)
		if perr != nil {
			return false, strconv.Quote(*v), nil
		}
		n = got
		return ok(got), *v, nil
	})
	return n
}

// number reads the data-value of sel now.
func (p *tab) number(sel string) int64 {
	p.t.Helper()
	return p.waitNumber(sel, "a number", func(int64) bool { return true })
}

// openViewer opens the viewer page of a stream as user and waits for its socket.
func openViewer(ts *testServer, b *browser, user, streamID string) *tab {
	ts.t.Helper()
	p := b.open(user, ts.URL+"/?stream="+streamID+"&token="+ts.token(user, engagement.RoleViewer, ""))
	p.waitFor(`#conn-status[data-state="open"]`)
	p.waitText("#you-name", "Watching as "+strings.ToUpper(user[:1])+user[1:])
	return p
}

// openHostPanel opens the host panel on a stream with its host's token and waits for the dashboard.
func openHostPanel(ts *testServer, b *browser, streamID string) *tab {
	ts.t.Helper()
	p := b.open("host", ts.URL+"/host?stream="+streamID+"&token="+ts.token("host-"+streamID, engagement.RoleHost, streamID))
	p.waitFor(`#dashboard:not([hidden])`)
	p.waitFor(`#conn-status[data-state="open"]`)
	p.waitText("#stream-id-chip", streamID)
	return p
}

// waitEvent waits until the sink has received an event of type typ from user.
func waitEvent(ts *testServer, typ, user string) {
	ts.t.Helper()
	deadline := time.Now().Add(browserStep)
	for time.Now().Before(deadline) {
		for _, ev := range ts.sink.Events() {
			if ev.Type == typ && ev.UserID == user {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	ts.t.Fatalf("no %s event from %s within %s", typ, user, browserStep)
}

func TestBrowserViewersChatAndLike(t *testing.T) {
	ts := newTestServer(t, fastLimits())
	ts.createStream("s1")
	b := newBrowser(t)
	ann := openViewer(ts, b, "ann", "s1")
	bob := openViewer(ts, b, "bob", "s1")
	ann.waitText("#stream-title", "Show s1")
	ann.waitNumber("#viewer-count", "2 viewers", func(n int64) bool { return n == 2 })

	ann.typeText("#chat-input", "Is the red one in stock?")
	ann.waitText("#chat-count", "24/200")
	ann.click("#chat-send")
	mine := `#chat-list li.chat-item.mine[data-user="ann"]`
	ann.waitText(mine+" .chat-text", "Is the red one in stock?")
	ann.waitText(mine+" .chat-name", "Ann (you)")
	ann.waitFor(`#chat-input:not(:disabled)`)
	if v, _, err := ann.textOf("#chat-count"); err != nil || v != "0/200" {
		t.Errorf("after sending, #chat-count = %q (%v), want the input cleared to 0/200", v, err)
	}
	theirs := `#chat-list li.chat-item[data-user="ann"]:not(.mine)`
	bob.waitText(theirs+" .chat-text", "Is the red one in stock?")
	bob.waitText(theirs+" .chat-name", "Ann")

	before := ann.number("#like-total")
	for range 3 {
		bob.click("#like-button")
	}
	bob.waitNumber("#like-total", fmt.Sprintf("at least %d", before+3), func(n int64) bool { return n >= before+3 })
	// Ann's count can only grow from the server's broadcast of Bob's taps.
	got := ann.waitNumber("#like-total", fmt.Sprintf("%d", before+3), func(n int64) bool { return n == before+3 })
	ann.waitText("#like-total", strconv.FormatInt(got, 10))

	ann.noExceptions()
	bob.noExceptions()
}

func TestBrowserHostRunsPoll(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")

	host.fill("#poll-question", "Which colour next?")
	host.fill(`#poll-options .option-row:nth-child(1) .poll-option-input`, "Coral")
	host.fill(`#poll-options .option-row:nth-child(2) .poll-option-input`, "Teal")
	host.click("#poll-create")
	host.waitText("#poll-state", "live")

	ann.waitFor(`#poll-card:not([hidden])[data-status="open"]`)
	ann.waitText("#poll-card .card-question", "Which colour next?")
	ann.waitText(`#poll-card .poll-option[data-index="1"] .poll-label`, "Teal")
	ann.waitText(`#poll-card .poll-option[data-index="1"] .poll-pct`, "0%")
	ann.click(`#poll-card .poll-option[data-index="1"]`)
	ann.waitFor(`#poll-card .poll-option.voted[data-index="1"]`)
	ann.waitText(`#poll-card .poll-option[data-index="1"] .poll-pct`, "100%")
	ann.waitText(`#poll-card .poll-option[data-index="0"] .poll-pct`, "0%")
	ann.waitText("#poll-foot", "1 vote · Thanks for voting")
	host.waitText(`#poll-tally .tally-row[data-index="1"] .tally-count`, "1 · 100%")
	host.waitText("#poll-total", "1 vote")

	host.click("#poll-close")
	host.waitText("#poll-state", "closed")
	host.waitText("#poll-total", "winner: Teal")
	ann.waitFor(`#poll-card[data-status="closed"]`)
	ann.waitFor(`#poll-card .poll-option.winner[data-index="1"]`)
	ann.waitText("#poll-foot", "Winner: Teal")

	host.noExceptions()
	ann.noExceptions()
}

func TestBrowserQuizPaysPoints(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")
	start := ann.number("#points-balance")

	host.fill("#quiz-title", "Skincare basics")
	host.fill("#quiz-questions .quiz-q .quiz-q-text", "Which SPF blocks the most UVB?")
	for i, choice := range []string{"SPF 15", "SPF 50", "SPF 5"} {
		host.fill(fmt.Sprintf("#quiz-questions .quiz-q .choice-row:nth-child(%d) .quiz-q-choice", i+1), choice)
	}
	host.click("#quiz-questions .quiz-q .choice-row:nth-child(2) .quiz-q-answer")
	host.click("#quiz-start")
	host.waitText("#quiz-state", "live")
	host.waitText("#quiz-next", "Finish quiz")

	ann.waitFor(`#quiz-card:not([hidden])[data-question-id]`)
	ann.waitText("#quiz-card .card-question", "Which SPF blocks the most UVB?")
	ann.waitText(`#quiz-card .quiz-choice[data-index="1"] .choice-label`, "SPF 50")
	ann.click(`#quiz-card .quiz-choice[data-index="1"]`)
	ann.waitFor(`#quiz-card .quiz-choice.picked[data-index="1"]`)
	ann.waitText("#quiz-foot", "Answer locked in")
	waitEvent(ts, engagement.EventQuizAnswered, "ann") // the answer is stored before the host reveals

	host.click("#quiz-next")
	host.waitText("#quiz-state", "finished")
	host.waitText("#quiz-leaderboard", "Ann")
	ann.waitFor(`#quiz-card.revealed .quiz-choice.correct[data-index="1"]`)
	ann.waitText("#quiz-foot", "Correct! 🎉 1 of 1 got it right")
	balance := ann.waitNumber("#points-balance", fmt.Sprintf("above %d", start), func(n int64) bool { return n > start })
	ann.waitText("#points-history", "Correct quiz answer")
	ann.waitText("#points-history .history-delta", "+")
	// A right answer is worth 50–100 points (plus a streak bonus that starts at the second question).
	if d := balance - start; d < 50 || d > 100 {
		t.Errorf("quiz paid %d points, want 50..100", d)
	}

	host.noExceptions()
	ann.noExceptions()
}

func TestBrowserLuckyDraw(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")

	host.fill("#draw-prize", "Silk pillowcase")
	host.fill("#draw-winners", "1")
	host.click("#draw-open")
	host.waitText("#draw-state", "open")
	host.waitFor(`#draw-commitment-box:not([hidden])`)

	ann.waitFor(`#draw-card:not([hidden])[data-status="open"]`)
	ann.waitText("#draw-card .draw-prize", "Silk pillowcase")
	ann.click("#draw-enter")
	ann.waitText("#draw-enter", "You're in!")

	host.click("#draw-run")
	host.waitText("#draw-state", "drawn")
	host.waitText("#draw-result .draw-title", "Silk pillowcase — 1 winner")
	host.waitText(`#draw-result .draw-winners li[data-user="ann"]`, "Ann")
	ann.waitFor(`#draw-card.won[data-status="drawn"]`)
	ann.waitText("#draw-you-won", "You won!")
	ann.waitText("#draw-winners li.me", "Ann")
	ann.waitText("#draw-verify", "Verified in your browser")

	host.noExceptions()
	ann.noExceptions()
}
