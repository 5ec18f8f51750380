package static

import (
	"encoding/json"
	"html"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The pages' languages (assets/i18n.js): one catalogue per language, the same keys in each.
var catalogueLangs = []string{"en", "zh-CN"}

func loadCatalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, lang := range catalogueLangs {
		b, err := fs.ReadFile(FS, "assets/i18n/"+lang+".json")
		if err != nil {
			t.Fatalf("catalogue %s: %v", lang, err)
		}
		var cat map[string]string // a value that is not a string fails here
		if err := json.Unmarshal(b, &cat); err != nil {
			t.Fatalf("catalogue %s: %v", lang, err)
		}
		if len(cat) == 0 {
			t.Fatalf("catalogue %s is empty", lang)
		}
		out[lang] = cat
	}
	return out
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestCatalogueKeysInEveryLanguage lists the catalogues' keys and fails on a key missing in either language, on
// an empty text, and on a text whose {placeholders} differ from the English one's.
func TestCatalogueKeysInEveryLanguage(t *testing.T) {
	cats := loadCatalogues(t)
	en := cats["en"]
	for _, lang := range catalogueLangs {
		for _, key := range slices.Sorted(maps.Keys(cats[lang])) {
			if strings.TrimSpace(cats[lang][key]) == "" {
				t.Errorf("%s: key %q has an empty text", lang, key)
			}
			for _, other := range catalogueLangs {
				if _, ok := cats[other][key]; !ok {
					t.Errorf("key %q is in the %s catalogue but missing in %s", key, lang, other)
				}
			}
		}
		if lang == "en" {
			continue
		}
		for key, text := range cats[lang] {
			if want, got := placeholders(en[key]), placeholders(text); !slices.Equal(want, got) {
				t.Errorf("%s: key %q has placeholders %v, en has %v", lang, key, got, want)
			}
		}
	}
	// zh-CN is Chinese: a text with no Han character is most likely an untranslated copy of the English.
	han := regexp.MustCompile(`\p{Han}`)
	for key, text := range cats["zh-CN"] {
		if !han.MatchString(text) && text == en[key] && !untranslatable[key] {
			t.Errorf("zh-CN: key %q is the English text %q", key, text)
		}
	}
}

// untranslatable are the keys whose text is the same in both languages: names and notations.
var untranslatable = map[string]bool{
	"host.docTitleStream":    true, // "{title} — Kudos Studio": the product's name
	"host.feedback.nps":      true, // NPS, the name of the score
	"host.draw.result":       true, // "🎉 {prize} — {outcome}"
	"viewer.coupon.off":      true, // 减 ¥20: the checkout's own notation in both languages
	"viewer.coupon.minSpend": true,
}

var (
	// t('key', …) and tn('key', n, …) calls; a key is a string literal, never computed.
	tCall  = regexp.MustCompile(`\bt\(\s*'([^']*)'`)
	tnCall = regexp.MustCompile(`\btn\(\s*'([^']*)'`)
	// Any other literal that names a catalogue key (t(cond ? 'a' : 'b')).
	keyLiteral = regexp.MustCompile(`'((?:host|viewer|error)\.[A-Za-z0-9_.]+)'`)
	// A call with a computed key, which this test could not check.
	dynamicCall = regexp.MustCompile("\\btn?\\(\\s*[`\"]")

	i18nText = regexp.MustCompile(`<(\w+)\b([^>]*)\bdata-i18n="([^"]+)"([^>]*)>([^<]*)</(\w+)>`)
	i18nAny  = regexp.MustCompile(`\bdata-i18n="([^"]+)"`)
	i18nAttr = regexp.MustCompile(`<[^>]*\bdata-i18n-attr="([^"]+)"[^>]*>`)
)

// TestCatalogueCoversThePages fails on any key the pages use (assets/*.js t() and tn() calls, the markup's
// data-i18n and data-i18n-attr) that is not in the catalogues, on a catalogue key no page uses, and on markup
// whose English text differs from the en catalogue (the text before the script runs, and what the tests read).
func TestCatalogueCoversThePages(t *testing.T) {
	cats := loadCatalogues(t)
	en := cats["en"]
	used := map[string]string{} // key → where
	use := func(key, where string) {
		if _, ok := used[key]; !ok {
			used[key] = where
		}
		if _, ok := en[key]; !ok {
			t.Errorf("%s uses key %q, which is not in the catalogues", where, key)
		}
	}

	scripts, err := fs.Glob(FS, "assets/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	calls := 0
	for _, name := range scripts {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range dynamicCall.FindAllString(src, -1) {
			t.Errorf("%s: %q: a catalogue key must be a plain string literal", name, m)
		}
		for _, m := range tCall.FindAllStringSubmatch(src, -1) {
			calls++
			use(m[1], name)
		}
		for _, m := range tnCall.FindAllStringSubmatch(src, -1) {
			calls++
			use(m[1]+".one", name)
			use(m[1]+".other", name)
		}
		for _, m := range keyLiteral.FindAllStringSubmatch(src, -1) {
			if _, plural := en[m[1]+".other"]; !plural {
				use(m[1], name)
			}
		}
	}
	if calls < 100 {
		t.Errorf("found only %d t()/tn() calls in the scripts: is the pattern still right?", calls)
	}

	for _, page := range []string{"index.html", "host.html"} {
		b, err := fs.ReadFile(FS, page)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range i18nAny.FindAllStringSubmatch(src, -1) {
			use(m[1], page)
		}
		texts := i18nText.FindAllStringSubmatch(src, -1)
		if len(texts) != len(i18nAny.FindAllString(src, -1)) {
			t.Errorf("%s: %d data-i18n elements, of which %d are plain text leaves; data-i18n replaces an element's children",
				page, len(i18nAny.FindAllString(src, -1)), len(texts))
		}
		for _, m := range texts {
			if m[1] != m[6] {
				t.Errorf("%s: data-i18n=%q on <%s> closed by </%s>", page, m[3], m[1], m[6])
			}
			if got := html.UnescapeString(m[5]); got != en[m[3]] {
				t.Errorf("%s: the markup's text of %q is %q, the en catalogue says %q", page, m[3], got, en[m[3]])
			}
		}
		for _, m := range i18nAttr.FindAllStringSubmatch(src, -1) {
			for pair := range strings.SplitSeq(m[1], ";") {
				attr, key, ok := strings.Cut(pair, ":")
				if !ok || attr == "" || key == "" {
					t.Errorf("%s: bad data-i18n-attr %q", page, m[1])
					continue
				}
				use(key, page)
				// The attribute the markup carries is the English text too.
				re := regexp.MustCompile(`\b` + regexp.QuoteMeta(attr) + `="([^"]*)"`)
				if v := re.FindStringSubmatch(m[0]); v == nil {
					t.Errorf("%s: %s carries no %s for its key %q", page, m[0], attr, key)
				} else if got := html.UnescapeString(v[1]); got != en[key] {
					t.Errorf("%s: %s=%q, the en catalogue's %q says %q", page, attr, got, key, en[key])
				}
			}
		}
	}

	for _, key := range slices.Sorted(maps.Keys(en)) {
		if _, ok := used[key]; !ok {
			t.Errorf("catalogue key %q is used by no page", key)
		}
	}
}

// TestCatalogueKeyCheckFindsMissingKeys runs the patterns of TestCatalogueCoversThePages on a sample, so that
// a pattern that silently stopped matching cannot pass the check above.
func TestCatalogueKeyCheckFindsMissingKeys(t *testing.T) {
	src := "x(t('a.b'), tn('c.d', 2), t(ok ? 'viewer.yes' : 'viewer.no'), t(`host.${k}`), set(\"t('quoted')\"))"
	var got []string
	for _, m := range tCall.FindAllStringSubmatch(src, -1) {
		got = append(got, m[1])
	}
	for _, m := range tnCall.FindAllStringSubmatch(src, -1) {
		got = append(got, "n:"+m[1])
	}
	for _, m := range keyLiteral.FindAllStringSubmatch(src, -1) {
		got = append(got, "lit:"+m[1])
	}
	want := []string{"a.b", "quoted", "n:c.d", "lit:viewer.yes", "lit:viewer.no"}
	if !slices.Equal(got, want) {
		t.Errorf("patterns found %q, want %q", got, want)
	}
	if n := len(dynamicCall.FindAllString(src, -1)); n != 1 {
		t.Errorf("found %d computed keys, want 1", n)
	}
	page := `<h2 data-i18n="k.one">One &amp; two</h2><button data-i18n="k.two"><svg></svg>Two</button>`
	if n := len(i18nText.FindAllString(page, -1)); n != 1 {
		t.Errorf("found %d plain data-i18n leaves, want 1 (an element with children is not one)", n)
	}
}
