package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// SVG geometry: two panels sharing the viewers axis.
const (
	svgW, svgH   = 720, 560
	plotL, plotR = 80, 700 // x range of both plots
	latT, latB   = 40, 250 // latency panel
	dlvT, dlvB   = 320, 520
)

// WriteSVG draws the capacity sweep as a small self-contained SVG: p50 and p99 latency (log scale, with the
// 250 ms SLO) and deliveries/s (measured and expected) against viewers, one point per step (its medians).
// Every point is a <circle> with class p50, p99 or dps and data-viewers / data-value attributes.
func WriteSVG(w io.Writer, steps []Step) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	if len(steps) == 0 {
		b.WriteString(`<text x="360" y="280" text-anchor="middle">no capacity runs</text>` + "\n</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	maxV := 0
	maxD := 0.0
	lo, hi := math.Inf(1), SLOp99
	for _, s := range steps {
		maxV = max(maxV, s.Viewers)
		maxD = max(maxD, s.PerSec, s.Expected)
		for _, v := range []float64{s.P50, s.P99} {
			if v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo = 1
	}
	decLo, decHi := math.Floor(math.Log10(min(lo, SLOp99))), math.Ceil(math.Log10(hi))
	if decHi <= decLo {
		decHi = decLo + 1
	}
	xOf := func(v int) float64 { return plotL + float64(v)/float64(maxV)*(plotR-plotL) }
	yLat := func(msv float64) float64 {
		msv = max(msv, math.Pow(10, decLo))
		return latB - (math.Log10(msv)-decLo)/(decHi-decLo)*(latB-latT)
	}
	dTop := niceCeil(maxD)
	yDlv := func(d float64) float64 { return dlvB - d/dTop*(dlvB-dlvT) }

	// Axes, grid and labels.
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="14">Send-to-screen latency (ms, log scale), medians per step</text>`+"\n", plotL)
	fmt.Fprintf(&b, `<text x="%d" y="304" font-size="14">Comment deliveries per second, medians per step</text>`+"\n", plotL)
	for d := decLo; d <= decHi; d++ {
		y := yLat(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			plotL, y, plotR, y, plotL-6, y+4, thousands(math.Pow(10, d)))
	}
	for i := 0; i <= 4; i++ {
		d := dTop * float64(i) / 4
		y := yDlv(d)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			plotL, y, plotR, y, plotL-6, y+4, thousands(d))
	}
	for _, s := range steps {
		x := xOf(s.Viewers)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, latB+16, thousands(float64(s.Viewers)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, dlvB+16, thousands(float64(s.Viewers)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">viewers (20 comments/s)</text>`+"\n", (plotL+plotR)/2, dlvB+34)
	for _, ax := range [][2]int{{latT, latB}, {dlvT, dlvB}} {
		fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" fill="none" stroke="black"/>`+"\n", plotL, ax[0], ax[1], plotR)
	}
	slo := yLat(SLOp99)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" stroke-dasharray="6 4"/><text x="%d" y="%.1f" fill="#c00">SLO p99 250 ms</text>`+"\n",
		plotL, slo, plotR, slo, plotL+6, slo-4)

	series := func(class, color string, val func(Step) float64, y func(float64) float64, dashed bool) {
		var pts []string
		for _, s := range steps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(s.Viewers), y(val(s))))
		}
		dash := ""
		if dashed {
			dash = ` stroke-dasharray="3 3"`
		}
		fmt.Fprintf(&b, `<polyline class="%s-line" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", class, strings.Join(pts, " "), color, dash)
		if dashed {
			return
		}
		for _, s := range steps {
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3.5" fill="%s" data-viewers="%d" data-value="%.1f"><title>%s viewers: %s</title></circle>`+"\n",
				class, xOf(s.Viewers), y(val(s)), color, s.Viewers, val(s), thousands(float64(s.Viewers)), html.EscapeString(fmt.Sprintf("%s %.1f", class, val(s))))
		}
	}
	series("p50", "#1f77b4", func(s Step) float64 { return s.P50 }, yLat, false)
	series("p99", "#d62728", func(s Step) float64 { return s.P99 }, yLat, false)
	series("expected", "#999", func(s Step) float64 { return s.Expected }, yDlv, true)
	series("dps", "#2ca02c", func(s Step) float64 { return s.PerSec }, yDlv, false)

	// Legends.
	legend := func(x, y int, color, label string) {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y-4, color, x+16, y, label)
	}
	legend(plotL+10, latT+12, "#1f77b4", "p50")
	legend(plotL+60, latT+12, "#d62728", "p99")
	legend(plotL+10, dlvT+12, "#2ca02c", "delivered")
	legend(plotL+100, dlvT+12, "#999", "expected (viewers × 20)")
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 × a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
