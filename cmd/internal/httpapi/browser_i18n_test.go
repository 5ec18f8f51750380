package httpapi

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/static"
)

// catalogue reads one language's catalogue of the pages (static/assets/i18n/<lang>.json).
func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(static.FS, "assets/i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]string
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	return cat
}

// visibleTexts is a script listing what a user reads in the page: every visible text node and the placeholder,
// aria-label, title and alt of visible elements, outside aria-hidden decoration (the stylised "video").
const visibleTexts = `(() => {
  const out = [];
  const hidden = (el) => !el || el.closest('[aria-hidden="true"]') || !el.checkVisibility();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const text = n.textContent.trim();
    if (!text || ['SCRIPT', 'STYLE'].includes(n.parentElement.tagName) || hidden(n.parentElement)) continue;
    out.push(text);
  }
  for (const el of document.body.querySelectorAll('[placeholder], [aria-label], [title], [alt]')) {
    if (hidden(el)) continue;
    for (const a of ['placeholder', 'aria-label', 'title', 'alt']) {
      const v = (el.getAttribute(a) || '').trim();
      if (v) out.push(v);
    }
  }
  return out;
})()`

// latinWord is a run of three Latin letters: an English word left in a Chinese page.
var latinWord = regexp.MustCompile(`[A-Za-z]{3,}`)

// assertChinese fails on any visible text of the page that still holds English: a word of three Latin letters
// once the names the test itself chose (allowed) are taken out; and when it finds fewer than least texts to check.
func assertChinese(t *testing.T, p *tab, least int, allowed ...string) {
	t.Helper()
	texts, err := evalIn[[]string](p, visibleTexts)
	if err != nil {
		t.Fatalf("tab %s: %v", p.name, err)
	}
	if len(texts) < least {
		t.Fatalf("tab %s: only %d visible texts: %q", p.name, len(texts), texts)
	}
	for _, text := range texts {
		rest := text
		for _, a := range allowed {
			rest = strings.ReplaceAll(rest, a, "")
		}
		if w := latinWord.FindString(rest); w != "" {
			t.Errorf("tab %s: visible text %q is not Chinese (%q)", p.name, text, w)
		}
	}
}

// expectTexts checks elements' text (or an attribute, after '@') against a catalogue's keys.
func expectTexts(t *testing.T, p *tab, cat map[string]string, want [][2]string) {
	t.Helper()
	for _, w := range want {
		sel, key := w[0], w[1]
		text, ok := cat[key]
		if !ok {
			t.Fatalf("no catalogue key %q", key)
		}
		if s, attr, found := strings.Cut(sel, "@"); found {
			p.waitUntil(sel+" to be "+text, func() (bool, string, error) {
				v, err := evalIn[*string](p, `document.querySelector(`+jsString(s)+`)?.getAttribute(`+jsString(attr)+`) ?? null`)
				if err != nil || v == nil {
					return false, "no such element or attribute", err
				}
				return *v == text, *v, nil
			})
			continue
		}
		p.waitText(sel, strings.Join(strings.Fields(text), " "))
	}
}

// TestBrowserChineseRoomAndHostPanel: with ?lang=zh-CN the room and the host panel speak Chinese throughout
// (key elements read the zh-CN catalogue's text; no visible text is left in English), count in 万 and 亿, and
// tell assistive technology their language; without it, the tests' English browser gets English.
func TestBrowserChineseRoomAndHostPanel(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	hostToken := ts.token("host-s1", engagement.RoleHost, "s1")
	if r := ts.do(http.MethodPost, "/api/v1/streams", hostToken, map[string]any{"id": "s1", "title": "春季护肤专场"}); r.status != http.StatusCreated {
		t.Fatalf("create stream: %d %s", r.status, r.body)
	}
	zh := catalogue(t, "zh-CN")
	en := catalogue(t, "en")
	b := newBrowser(t)

	host := b.open("host", ts.URL+"/host?stream=s1&lang=zh-CN&token="+hostToken)
	host.waitFor(`#dashboard:not([hidden])`)
	host.waitFor(`#conn-status[data-state="open"]`)
	ann := b.open("ann", ts.URL+"/?stream=s1&lang=zh-CN&token="+ts.token("ann", engagement.RoleViewer, ""))
	ann.waitFor(`#conn-status[data-state="open"]`)
	ann.waitText("#you-name", strings.ReplaceAll(zh["viewer.watchingAs"], "{name}", "Ann"))

	// The host runs the show in Chinese: a poll, a coupon, a chat line.
	host.fill("#poll-question", "下一个试哪个颜色？")
	host.fill(`#poll-options .option-row:nth-child(1) .poll-option-input`, "珊瑚色")
	host.fill(`#poll-options .option-row:nth-child(2) .poll-option-input`, "青色")
	host.click("#poll-create")
	host.waitText("#poll-state", zh["host.state.live"])
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/coupons", hostToken, map[string]any{"title": "满 100 减 20", "stock": 50, "expires_s": 600}); r.status != http.StatusCreated {
		t.Fatalf("drop: %d %s", r.status, r.body)
	}
	ann.typeText("#chat-input", "有红色的吗")
	ann.click("#chat-send")
	host.waitText(`#mod-chat li[data-user="ann"]`, "有红色的吗")

	ann.waitFor(`#poll-card:not([hidden])`)
	ann.waitFor(`#coupon-card:not([hidden])`)
	expectTexts(t, ann, zh, [][2]string{
		{"#conn-status", "viewer.conn.open"},
		{"#live-badge", "viewer.liveBadge"},
		{"#tab-qa", "viewer.tab.qa"},
		{"#tab-rewards", "viewer.tab.rewards"},
		{"#qa-send", "viewer.qa.ask"},
		{"#buy-button", "viewer.buy"},
		{"#chat-input@placeholder", "viewer.chat.placeholder"},
		{"#chat-input@aria-label", "viewer.chat.inputLabel"},
		{"#chat-send@aria-label", "viewer.chat.send"},
		{"#like-button@aria-label", "viewer.like"},
		{"#chat-list@aria-label", "viewer.chat.label"},
		{"#poll-card .card-kicker", "viewer.poll.kicker"},
		{"#coupon-claim", "viewer.coupon.claim"},
	})
	ann.waitText("#poll-foot", strings.TrimSpace(zh["viewer.poll.tap"]))
	ann.waitText(`#chat-list li.mine .chat-name`, strings.ReplaceAll(zh["viewer.chat.mine"], "{name}", "Ann"))
	expectTexts(t, host, zh, [][2]string{
		{"#card-poll h2", "host.poll.title"},
		{"#stream-end", "host.stream.end"},
		{"#stream-status", "host.status.live"},
		{"#host-signout", "host.signOut"},
		{"#coupon-drop", "host.coupon.drop"},
		{"#draw-open", "host.draw.open"},
		{`#draw-eligible option[value="voters"]`, "host.draw.eligible.voters"},
		{"#host-chat-input@placeholder", "host.mod.sayPlaceholder"},
		{"#conn-status@title", "host.conn.open"},
		{`#mod-chat li[data-user="ann"] .mod-mute`, "host.mod.mute"},
	})
	host.waitText("#poll-total", strings.ReplaceAll(zh["host.votes.other"], "{count}", "0"))

	for _, p := range []*tab{ann, host} {
		if l, err := evalIn[string](p, `document.documentElement.lang`); err != nil || l != "zh-CN" {
			t.Errorf("tab %s: <html lang> = %q (%v), want zh-CN", p.name, l, err)
		}
		got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`import('/assets/i18n.js').then((m) => [m.formatNumber(12345), m.formatNumber(340000000), m.formatNumber(950), m.formatYuan(1234)].join(' '))`, chromedp.EvalAwaitPromise))
		if want := "1.2万 3.4亿 950 ¥12.34"; err != nil || got != want {
			t.Errorf("tab %s: numbers %q (%v), want %q", p.name, got, err, want)
		}
	}
	// Nothing visible is left in English: the Latin words are names (of people, the brand, the NPS score) and
	// the product form's examples of an id and a URL, which are Latin in every language.
	assertChinese(t, ann, 20, "Ann", "Kudos")
	assertChinese(t, host, 20, "Host-s1", "Ann", "Kudos", "Studio", "NPS", "https://shop.example/p/sneaker-42", "sneaker-42")

	// What the server tells in English reaches a Chinese buyer in Chinese: muted by the host, then refused.
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/moderation", hostToken, map[string]any{"action": "mute", "user": "ann", "duration_s": 600}); r.status != http.StatusOK {
		t.Fatalf("mute: %d %s", r.status, r.body)
	}
	mutedUntil, _, _ := strings.Cut(zh["viewer.mutedUntil"], "{time}")
	ann.waitText("#chat-error", mutedUntil)
	ann.typeText("#chat-input", "还在吗")
	ann.click("#chat-send")
	ann.waitText("#chat-error", zh["error.forbidden"])
	host.click("#host-signout") // gone from the dashboard; the sign-in view is what remains to read
	host.waitFor(`#signin-view:not([hidden])`)
	expectTexts(t, host, zh, [][2]string{{"#signin-title", "host.signin.title"}, {"#host-signin", "host.signin.button"}})
	assertChinese(t, host, 5, "JWT", "Kudos", "Studio", "eyJhbGciOi")

	// The embeddable room is the same room: in a shop's Chinese page it speaks Chinese too.
	room := b.open("embed", ts.URL+"/embed/s1?lang=zh-CN#token="+ts.token("cat", engagement.RoleViewer, ""))
	room.waitFor(`body.embed-page #conn-status[data-state="open"]`)
	room.waitText("#you-name", strings.ReplaceAll(zh["viewer.watchingAs"], "{name}", "Cat"))
	expectTexts(t, room, zh, [][2]string{{"#tab-qa", "viewer.tab.qa"}, {"#poll-card .card-kicker", "viewer.poll.kicker"}, {"#chat-input@placeholder", "viewer.chat.placeholder"}})
	assertChinese(t, room, 20, "Cat", "Ann", "Kudos")

	// The same room without ?lang= in the tests' English browser: English, and 12K.
	bob := openViewer(ts, b, "bob", "s1")
	if l, err := evalIn[string](bob, `document.documentElement.lang`); err != nil || l != "en" {
		t.Errorf("default <html lang> = %q (%v), want en", l, err)
	}
	expectTexts(t, bob, en, [][2]string{{"#tab-qa", "viewer.tab.qa"}, {"#conn-status", "viewer.conn.open"}, {"#chat-input@placeholder", "viewer.chat.placeholder"}})
	if got, err := chromedp.Run(bob.ctx, chromedp.Evaluate[string](`import('/assets/i18n.js').then((m) => [m.formatNumber(12345), m.formatNumber(3400000), m.formatYuan(1234)].join(' '))`, chromedp.EvalAwaitPromise)); err != nil || got != "12K 3.4M ¥12.34" {
		t.Errorf("en numbers %q (%v), want %q", got, err, "12K 3.4M ¥12.34")
	}

	ann.noExceptions()
	host.noExceptions()
	room.noExceptions()
	bob.noExceptions()
}

// keydown dispatches an Enter keydown on sel as an input method gives it: composing (isComposing), or the
// Enter that ends a composition with keyCode 229 (Safari), or a plain Enter.
func keydown(p *tab, sel, kind string) {
	p.t.Helper()
	script := `(() => {
  const el = document.querySelector(` + jsString(sel) + `);
  el.focus();
  const ev = new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', bubbles: true, cancelable: true, isComposing: ` + jsString(kind) + ` === 'composing' });
  if (` + jsString(kind) + ` === 'keycode229') Object.defineProperty(ev, 'keyCode', { get: () => 229 });
  el.dispatchEvent(ev);
  return true;
})()`
	if _, err := evalIn[bool](p, script); err != nil {
		p.t.Fatalf("tab %s: keydown on %s: %v", p.name, sel, err)
	}
}

// countEvents counts the sink's events of type typ from user.
func countEvents(ts *testServer, typ, user string) int {
	n := 0
	for _, ev := range ts.sink.Events() {
		if ev.Type == typ && ev.UserID == user {
			n++
		}
	}
	return n
}

// TestBrowserIMECompositionEnterDoesNotSend: the Enter that picks a Chinese word in an input method is the
// IME's, not a send; the chat, the Q&A and the host's chat send on a plain Enter only.
func TestBrowserIMECompositionEnterDoesNotSend(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")
	ann.click("#tab-qa")

	for _, c := range []struct {
		p     *tab
		input string
		user  string
		event string
		shown string // where the sent text appears
		text  string
	}{
		{ann, "#chat-input", "ann", engagement.EventCommentPosted, `#chat-list li.chat-item.mine[data-user="ann"] .chat-text`, "你好"},
		{ann, "#qa-input", "ann", engagement.EventQuestionAsked, "#qa-list .qa-text", "适合敏感肌吗"},
		{host, "#host-chat-input", "host-s1", engagement.EventCommentPosted, `#mod-chat li[data-user="host-s1"]`, "欢迎大家"},
	} {
		c.p.fill(c.input, c.text)
		before := countEvents(ts, c.event, c.user)
		keydown(c.p, c.input, "composing")
		keydown(c.p, c.input, "keycode229")
		time.Sleep(700 * time.Millisecond) // a send would be acknowledged well within this
		if n := countEvents(ts, c.event, c.user); n != before {
			t.Errorf("%s: an Enter during composition sent %d frame(s)", c.input, n-before)
		}
		if v, err := evalIn[string](c.p, `document.querySelector(`+jsString(c.input)+`).value`); err != nil || v != c.text {
			t.Errorf("%s: after composition Enters the input holds %q (%v), want %q kept", c.input, v, err, c.text)
		}
		if got, ok, _ := c.p.textOf(c.shown); ok && strings.Contains(got, c.text) {
			t.Errorf("%s: the text was shown as sent: %q", c.input, got)
		}

		// The plain Enter that follows the composition sends.
		keydown(c.p, c.input, "plain")
		c.p.waitText(c.shown, c.text)
		c.p.waitUntil(c.input+" to be cleared", func() (bool, string, error) {
			v, err := evalIn[string](c.p, `document.querySelector(`+jsString(c.input)+`).value`)
			return v == "", v, err
		})
		if n := countEvents(ts, c.event, c.user); n != before+1 {
			t.Errorf("%s: a plain Enter sent %d frame(s), want 1", c.input, n-before)
		}
	}
	ann.noExceptions()
	host.noExceptions()
}

// TestBrowserAccessibilityBasics: the chats are polite live regions, every control of the room and the host
// panel has an accessible name (Chromium's own accessibility tree says so), and reduced motion stops the
// floating hearts and the animations.
func TestBrowserAccessibilityBasics(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")
	if r := ts.do(http.MethodPost, "/api/v1/streams/s1/polls", ts.token("host-s1", engagement.RoleHost, "s1"),
		map[string]any{"question": "Coral or teal?", "options": []string{"Coral", "Teal"}}); r.status != http.StatusCreated {
		t.Fatalf("poll: %d %s", r.status, r.body)
	}
	ann.waitFor(`#poll-card:not([hidden])`)
	ann.typeText("#chat-input", "hello")
	ann.click("#chat-send")
	host.waitFor(`#mod-chat li[data-user="ann"]`)

	for _, c := range []struct {
		p   *tab
		sel string
	}{{ann, "#chat-list"}, {host, "#mod-chat"}, {ann, "#toasts"}} {
		if v, err := evalIn[string](c.p, `document.querySelector(`+jsString(c.sel)+`)?.getAttribute('aria-live') ?? ''`); err != nil || v != "polite" {
			t.Errorf("tab %s: %s aria-live = %q (%v), want polite", c.p.name, c.sel, v, err)
		}
	}

	for _, p := range []*tab{ann, host} {
		if unnamed := unnamedControls(t, p); len(unnamed) > 0 {
			t.Errorf("tab %s: controls without an accessible name: %s", p.name, strings.Join(unnamed, "; "))
		}
	}
	for _, panel := range []string{"rate", "rewards"} { // the side panel's other tabs
		ann.click("#tab-" + panel)
		ann.waitFor(`#panel-` + panel + `:not([hidden])`)
		if unnamed := unnamedControls(t, ann); len(unnamed) > 0 {
			t.Errorf("tab ann, panel %s: controls without an accessible name: %s", panel, strings.Join(unnamed, "; "))
		}
	}

	// Motion first: a like floats a heart that animates, and these move.
	ann.click("#like-button")
	ann.waitUntil("a floating heart", func() (bool, string, error) {
		name, err := evalIn[string](ann, `(() => { const h = document.querySelector('#hearts .heart'); return h ? getComputedStyle(h).animationName : '' })()`)
		return name == "heart-up", name, err
	})
	moving := []string{
		".studio-glow",  // the studio light's spin
		".like-btn",     // the pop of a tap (it keeps its .pop class)
		"#poll-card",    // a card's entrance
		"#chat-list li", // a message sliding in
	}
	duration := func(sel string) string {
		ann.t.Helper()
		d, err := evalIn[string](ann, `getComputedStyle(document.querySelector(`+jsString(sel)+`)).animationDuration`)
		if err != nil {
			ann.t.Fatal(err)
		}
		return d
	}
	for _, sel := range moving {
		if d := duration(sel); d == "0s" || d == "" {
			t.Errorf("without reduced motion %s has animation-duration %q", sel, d)
		}
	}

	// Reduced motion: no hearts, no animations, the like still counts.
	ctx, cancel := context.WithTimeout(ann.ctx, browserStep)
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := evalIn[bool](ann, `matchMedia('(prefers-reduced-motion: reduce)').matches`); err != nil || !ok {
		t.Fatalf("reduced motion not emulated (%v)", err)
	}
	ann.waitUntil("the hearts to be gone", func() (bool, string, error) {
		n, err := evalIn[int](ann, `document.querySelectorAll('#hearts .heart').length`)
		return n == 0, "hearts still floating", err
	})
	before := ann.number("#like-total")
	for range 3 {
		ann.click("#like-button")
	}
	ann.waitNumber("#like-total", "3 more likes", func(n int64) bool { return n == before+3 })
	if n, err := evalIn[int](ann, `document.querySelectorAll('#hearts .heart').length`); err != nil || n != 0 {
		t.Errorf("with reduced motion %d heart(s) float (%v)", n, err)
	}
	if d, err := evalIn[string](ann, `getComputedStyle(document.querySelector('#hearts')).display`); err != nil || d != "none" {
		t.Errorf("with reduced motion #hearts display = %q (%v), want none", d, err)
	}
	for _, sel := range moving {
		if d := duration(sel); d != "0s" {
			t.Errorf("with reduced motion %s has animation-duration %q, want 0s", sel, d)
		}
	}
	ann.noExceptions()
	host.noExceptions()
}

// controlRoles are the roles a user operates, each of which needs a name.
var controlRoles = []string{"button", "textbox", "searchbox", "combobox", "checkbox", "radio", "slider", "spinbutton", "link", "tab", "switch", "menuitem", "listbox", "radiogroup"}

// unnamedControls lists the controls of the page that Chromium's accessibility tree exposes without a name.
func unnamedControls(t *testing.T, p *tab) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserStep)
	defer cancel()
	if _, err := chromedp.Call(ctx, accessibility.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatal(err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil || len(v.Value) == 0 {
			return ""
		}
		var s string
		_ = json.Unmarshal([]byte(v.Value), &s)
		return strings.TrimSpace(s)
	}
	var out []string
	controls := 0
	for _, n := range tree.Nodes {
		role := str(n.Role)
		if n.Ignored || !slices.Contains(controlRoles, role) {
			continue
		}
		controls++
		if str(n.Name) == "" {
			html, err := chromedp.Call(ctx, dom.GetOuterHTML, dom.GetOuterHTMLParams{BackendNodeID: n.BackendDOMNodeID})
			if err != nil {
				html.OuterHTML = err.Error()
			}
			if len(html.OuterHTML) > 160 {
				html.OuterHTML = html.OuterHTML[:160] + "…"
			}
			out = append(out, role+": "+html.OuterHTML)
		}
	}
	if controls < 10 {
		t.Fatalf("tab %s: only %d controls in the accessibility tree", p.name, controls)
	}
	return out
}

// TestI18nModule runs the language module (static/assets/i18n.js: the choice of language, placeholders,
// plurals, 万/亿, the IME's Enter) under Node's test runner (testdata/i18n.test.mjs). Without Node it skips,
// and fails under CI=true.
func TestI18nModule(t *testing.T) {
	test, err := filepath.Abs("testdata/i18n.test.mjs")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node --test:\n%s", testenv.RunNodeTests(t, testenv.Node(t, 20, 0), "", test))
}
