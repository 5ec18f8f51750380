package static

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rootColours reads the hex colours of the :root custom properties of a stylesheet.
func rootColours(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(FS, name)
	if err != nil {
		t.Fatal(err)
	}
	root := regexp.MustCompile(`(?s):root\s*\{(.*?)\}`).FindStringSubmatch(string(b))
	if root == nil {
		t.Fatalf("%s has no :root block", name)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\s*;`).FindAllStringSubmatch(root[1], -1) {
		out[m[1]] = m[2]
	}
	return out
}

// luminance is the WCAG 2 relative luminance of a #rgb or #rrggbb colour.
func luminance(hex string) (float64, error) {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return 0, fmt.Errorf("not a #rrggbb colour: %q", hex)
	}
	var lin [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			lin[i] = c / 12.92
		} else {
			lin[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*lin[0] + 0.7152*lin[1] + 0.0722*lin[2], nil
}

// contrast is the WCAG 2 contrast ratio of two colours, from 1 to 21.
func contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05), nil
}

func TestContrastRatio(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"#000", "#fff", 21},
		{"#fff", "#fff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic grey that just fails AA
	} {
		got, err := contrast(c.a, c.b)
		if err != nil || math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, %v; want %.2f", c.a, c.b, got, err, c.want)
		}
	}
}

// TestTextContrastMeetsWCAGAA checks the text colours of the stylesheets' variables against the backgrounds
// they are written on: WCAG 2 AA asks 4.5:1 for text under 18.66 px bold / 24 px.
func TestTextContrastMeetsWCAGAA(t *testing.T) {
	vars := rootColours(t, "assets/app.css")
	const aa = 4.5
	for _, p := range []struct{ text, background, where string }{
		{"--ink", "--panel", "text on the side panel, cards and the host panel"},
		{"--ink-2", "--panel", "secondary text (labels, hints)"},
		{"--ink-2", "#f4f4f8", "secondary text on the host page's background"},
		{"#ffffff", "--accent", "buttons: white on the gradient's first stop"},
		{"#ffffff", "--accent-2", "buttons: white on the gradient's last stop"},
		{"--accent", "--panel", "link buttons and highlights written in the accent"},
		{"--ok", "--panel", "success lines (.card-status.ok)"},
		{"--warn", "--panel", "warnings"},
		{"--bad", "--panel", "errors (.card-status)"},
		{"#ffffff", "#667085", "the host's ended status pill (host.css)"},
		{"#c2410c", "#fff0eb", "the product's live tag"},
		{"#8a4b00", "#fff4e5", "the tier warning"},
	} {
		resolve := func(v string) string {
			if strings.HasPrefix(v, "--") {
				c, ok := vars[v]
				if !ok {
					t.Fatalf("app.css :root has no colour %s", v)
				}
				return c
			}
			return v
		}
		ratio, err := contrast(resolve(p.text), resolve(p.background))
		if err != nil {
			t.Fatal(err)
		}
		if ratio < aa {
			t.Errorf("%s on %s (%s): contrast %.2f:1, WCAG AA needs %.1f:1", p.text, p.background, p.where, ratio, aa)
		}
	}
}
