package loyalty

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
	"time"
)

// The HTML report (kudos-loyalty -html FILE): one self-contained page, no script and no external address,
// with the charts drawn here as inline SVG. Labels are Chinese first, then English: the shop's managers
// and hosts read Chinese.

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) },
	"yuan":  func(fen int64) string { return fmt.Sprintf("¥%.2f", float64(fen)/100) },
	"cpct":  cohortPtr,
	"prop":  prop,
	"z":     ztestHTML,
	"signf": func(r float64) string { return fmt.Sprintf("%+.1f", r) },
}).Parse(reportHTML))

// palette is the charts' colours: the arms and segments take them in order.
var palette = []string{"#d7263d", "#1b998b", "#f49d37", "#3f88c5", "#8e5572", "#6c757d"}

// WriteHTML writes r as a self-contained HTML page; loc is the business time zone its time is shown in.
func WriteHTML(w io.Writer, r Report, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	asOf := "-"
	if !r.Now.IsZero() {
		asOf = r.Now.In(loc).Format("2006-01-02 15:04 MST") + " (" + loc.String() + ")"
	}
	return reportTemplate.Execute(w, struct {
		R           Report
		AsOf        string
		Retention   template.HTML
		Funnel      template.HTML
		Segments    template.HTML
		Arms        template.HTML
		Definitions []struct{ Name, Rule string }
	}{r, asOf, retentionSVG(r.Retention), funnelSVG(r.Funnel), segmentsSVG(r.Segments), armsSVG(r.Arms), Definitions})
}

func ztestHTML(z *ZTest) template.HTML {
	if z == nil {
		return "对照组 control"
	}
	s := fmt.Sprintf("z = %+.2f, p = %.3f", z.Z, z.P)
	if z.P < 0.05 {
		return template.HTML(html.EscapeString(s) + ` <b class="sig">显著 significant</b>`)
	}
	return template.HTML(html.EscapeString(s) + ` <span class="ns">不显著 not significant</span>`)
}

// svg is a small builder of one chart.
type svg struct{ b strings.Builder }

func newSVG(id string, w, h int, label string) *svg {
	s := &svg{}
	fmt.Fprintf(&s.b, `<svg id="%s" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		id, w, h, w, h, html.EscapeString(label))
	return s
}

func (s *svg) add(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, class, text string) {
	s.add(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, html.EscapeString(text))
}

func (s *svg) done() template.HTML {
	s.b.WriteString("</svg>")
	return template.HTML(s.b.String())
}

func (s *svg) empty(w, h int) template.HTML {
	s.text(float64(w)/2, float64(h)/2, "middle", "empty", "暂无数据 No data yet")
	return s.done()
}

// retentionSVG draws day-N retention for N = 0..30: a line through one point per day that has cohorts.
func retentionSVG(r Retention) template.HTML {
	const w, h, left, right, top, bottom = 680, 280, 52, 16, 16, 40
	s := newSVG("retention-chart", w, h, "留存曲线 Retention curve")
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	x := func(n int) float64 { return left + float64(n)*pw/30 }
	y := func(rate float64) float64 { return top + (1-rate)*ph }
	for _, g := range []float64{0, 0.25, 0.5, 0.75, 1} {
		s.add(`<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, y(g), y(g))
		s.text(left-6, y(g)+4, "end", "axis", fmt.Sprintf("%.0f%%", 100*g))
	}
	for _, n := range []int{0, 7, 14, 21, 30} {
		s.text(x(n), h-bottom+18, "middle", "axis", fmt.Sprintf("D+%d", n))
	}
	s.text(left+pw/2, h-4, "middle", "axis", "首次访问后第 N 天 Day N after the first visit")
	var pts []string
	var dots strings.Builder
	for n, c := range r.Curve {
		if c.Users == 0 {
			continue
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(n), y(c.Rate)))
		class := "pt"
		if n == 1 || n == 7 || n == 30 {
			class = "pt key"
		}
		fmt.Fprintf(&dots, `<circle class="%s" data-n="%d" data-rate="%.4f" cx="%.1f" cy="%.1f" r="%d"><title>D+%d: %.1f%% (%d/%d)</title></circle>`,
			class, n, c.Rate, x(n), y(c.Rate), map[bool]int{true: 5, false: 3}[class != "pt"], n, 100*c.Rate, c.Retained, c.Users)
	}
	if len(pts) == 0 {
		return s.empty(w, h)
	}
	s.add(`<polyline class="line" points="%s"/>`, strings.Join(pts, " "))
	s.b.WriteString(dots.String())
	for _, k := range []struct {
		n int
		c Cohort
	}{{1, r.D1}, {7, r.D7}, {30, r.D30}} {
		if k.c.Users > 0 {
			s.text(x(k.n), y(k.c.Rate)-10, "middle", "val", fmt.Sprintf("%.0f%%", 100*k.c.Rate))
		}
	}
	return s.done()
}

// hbars draws labelled horizontal bars, each as wide as its value against the largest.
func hbars(id, label string, rows []struct {
	label string
	value int
	note  string
}, colors []string) template.HTML {
	const w, left, right, rowH = 680, 190, 120, 44
	h := len(rows)*rowH + 16
	s := newSVG(id, w, h, label)
	maxV := 0
	for _, r := range rows {
		maxV = max(maxV, r.value)
	}
	if maxV == 0 {
		return s.empty(w, h)
	}
	pw := float64(w - left - right)
	for i, r := range rows {
		y := float64(8 + i*rowH)
		bw := pw * float64(r.value) / float64(maxV)
		s.text(left-10, y+24, "end", "label", r.label)
		s.add(`<rect class="bar" data-value="%d" x="%d" y="%.1f" width="%.1f" height="30" rx="4" fill="%s"><title>%s: %d</title></rect>`,
			r.value, left, y+4, bw, colors[i%len(colors)], html.EscapeString(r.label), r.value)
		s.text(float64(left)+bw+8, y+24, "start", "val", fmt.Sprintf("%d %s", r.value, r.note))
	}
	return s.done()
}

func funnelSVG(f Funnel) template.HTML {
	share := func(n int) string {
		if f.Viewers == 0 {
			return ""
		}
		return fmt.Sprintf("(%.0f%%)", 100*ratio(n, f.Viewers))
	}
	return hbars("funnel-chart", "转化漏斗 Funnel", []struct {
		label string
		value int
		note  string
	}{
		{"观看 Viewers", f.Viewers, ""},
		{"互动 Participants", f.Participants, share(f.Participants)},
		{"点击商品 Clickers", f.Clickers, share(f.Clickers)},
		{"下单 Buyers", f.Buyers, share(f.Buyers)},
	}, []string{"#3f88c5", "#1b998b", "#f49d37", "#d7263d"})
}

func segmentsSVG(sg Segments) template.HTML {
	return hbars("segments-chart", "用户分群 Segments", []struct {
		label string
		value int
		note  string
	}{
		{"高价值 High value", sg.HighValue, ""},
		{"新客 New", sg.New, ""},
		{"活跃 Active", sg.Active, ""},
		{"流失风险 At risk", sg.AtRisk, ""},
		{"已流失 Churned", sg.Churned, ""},
	}, []string{"#8e5572", "#3f88c5", "#1b998b", "#f49d37", "#6c757d"})
}

// armsSVG draws the three rates of every arm side by side.
func armsSVG(a Arms) template.HTML {
	const w, h, left, right, top, bottom = 680, 280, 52, 16, 16, 64
	s := newSVG("arms-chart", w, h, "A/B 分组对比 Arms comparison")
	if len(a.Arms) == 0 {
		return s.empty(w, h)
	}
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	y := func(rate float64) float64 { return top + (1-rate)*ph }
	for _, g := range []float64{0, 0.25, 0.5, 0.75, 1} {
		s.add(`<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, y(g), y(g))
		s.text(left-6, y(g)+4, "end", "axis", fmt.Sprintf("%.0f%%", 100*g))
	}
	metrics := []struct {
		label string
		get   func(Arm) Proportion
	}{
		{"参与率 Participation", func(x Arm) Proportion { return x.Participation }},
		{"转化率 Conversion", func(x Arm) Proportion { return x.Conversion }},
		{"7日留存 Retention d7", func(x Arm) Proportion { return x.RetentionD7 }},
	}
	groupW := pw / float64(len(metrics))
	barW := min(48, (groupW-24)/float64(len(a.Arms)))
	for mi, m := range metrics {
		gx := float64(left) + float64(mi)*groupW + (groupW-barW*float64(len(a.Arms)))/2
		for ai, arm := range a.Arms {
			p := m.get(arm)
			bx := gx + float64(ai)*barW
			s.add(`<rect class="bar" data-arm="%s" data-rate="%.4f" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.1f%% (%d/%d)</title></rect>`,
				html.EscapeString(arm.Arm), p.Rate, bx+2, y(p.Rate), barW-4, ph*p.Rate, palette[ai%len(palette)],
				html.EscapeString(arm.Arm), m.label, 100*p.Rate, p.X, p.N)
			s.text(bx+barW/2, y(p.Rate)-4, "middle", "val", fmt.Sprintf("%.0f%%", 100*p.Rate))
		}
		s.text(float64(left)+float64(mi)*groupW+groupW/2, h-bottom+20, "middle", "label", m.label)
	}
	for ai, arm := range a.Arms {
		x := float64(left) + float64(ai)*110
		s.add(`<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/>`, x, h-22, palette[ai%len(palette)])
		s.text(x+18, float64(h-12), "start", "label", "组 arm "+arm.Arm)
	}
	return s.done()
}
