package loyalty

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// The playbook's figures beyond the per-stream ones (report.go): the funnel, click → order per product,
// segments, churn warnings and A/B arms. Every rule is stated in a constant, repeated in the report, in the
// command's help text and in the README ("kudos-loyalty: what each figure means").

// ParticipationRule defines participation (StreamMetrics.Participants, Funnel.Participants).
const ParticipationRule = "participation rate per show = viewers (joined as viewer) who did anything on the show " +
	"(comment, like, poll vote, quiz answer, feedback, coupon claim, draw entry, question, product click, order) / viewers; " +
	"overall: each user once"

// SalesRule defines orders, GMV, conversion and the repeat-purchase rate (StreamMetrics, Purchases).
const SalesRule = "orders and GMV = purchase.recorded not refunded whole (a partial refund lowers GMV by its amount); " +
	"conversion per show = distinct buyers of its orders / its viewers; " +
	"repeat-purchase rate = buyers with 2 or more orders / buyers"

// FeedbackRule defines NPS and CSAT (StreamMetrics.NPS, StreamMetrics.CSAT).
const FeedbackRule = "each user's latest feedback.given per show and kind; " +
	"NPS (kind nps, 0-10) = % promoters (9-10) - % detractors (0-6); CSAT (kind rating, 1-5) = ratings of 4 or 5 / all ratings"

// FunnelRule defines Funnel.
const FunnelRule = "viewers = users who joined a show as viewer; participants = of them, did anything on a show they watched; " +
	"clickers = clicked a product on a show they watched; buyers = have an order (not refunded whole) attributed to a show they watched; " +
	"each user counted once"

// ProductRule defines Product.
const ProductRule = "per product: clicks = product.clicked events; clickers = distinct users who clicked it; " +
	"orders, units, GMV = orders (not refunded whole) with a line of it (units = qty, GMV = qty x price, lines as ordered); " +
	"click -> order = clickers with such an order at or after their first click / clickers"

// DefaultHighValueFen is the default high-value threshold: 1000 yuan in 90 days.
const DefaultHighValueFen = 100_000

// SegmentRule defines Segments and ChurnWarnings.
const SegmentRule = "R = report day, F = first active day, L = last active day (business days, activity up to R); " +
	"one segment per user, the first that matches: high_value = orders (not refunded whole) paid on days R-89..R total >= the threshold; " +
	"new = F >= R-6 (first seen within the last 7 days); active = L >= R-14; at_risk = R-30 <= L <= R-15; churned = L < R-30; " +
	"a churn warning goes to every user with R-30 <= L <= R-15, whatever their segment, once per ISO week"

// ArmsRule defines Arms.
const ArmsRule = "arm = the variant of the user's earliest event that has one; per arm: participation = participants / viewers, " +
	"conversion = buyers / viewers (the funnel's), retention d7 = active on D+7 / users whose D+7 <= R; " +
	"each arm against the control (the first arm by name): two-proportion z-test, pooled, " +
	"z = (p_arm - p_control) / sqrt(p(1-p)(1/n_arm + 1/n_control)), p = two-sided p-value; z = 0, p = 1 when it cannot be computed"

// Definitions lists every rule, for the help text and the HTML report.
var Definitions = []struct{ Name, Rule string }{
	{"retention", RetentionRule},
	{"participation", ParticipationRule},
	{"sales", SalesRule},
	{"funnel", FunnelRule},
	{"products", ProductRule},
	{"nps, csat", FeedbackRule},
	{"segments", SegmentRule},
	{"points", PointsRule},
	{"arms", ArmsRule},
	{"churn risk (activity drop)", ChurnRule},
}

// DefinitionsText is Definitions as indented lines for a terminal.
func DefinitionsText() string {
	var b strings.Builder
	for _, d := range Definitions {
		b.WriteString("  " + d.Name + ": " + d.Rule + "\n")
	}
	return b.String()
}

// Funnel is viewers → participants → clickers → buyers (FunnelRule).
type Funnel struct {
	Rule         string `json:"rule"`
	Viewers      int    `json:"viewers"`
	Participants int    `json:"participants"`
	Clickers     int    `json:"clickers"`
	Buyers       int    `json:"buyers"`
}

// Product is one product's click → order figures (ProductRule).
type Product struct {
	Product         string  `json:"product"`
	Clicks          int     `json:"clicks"`
	Clickers        int     `json:"clickers"`
	Orders          int     `json:"orders"`
	Units           int64   `json:"units"`
	GMVFen          int64   `json:"gmv_fen"`
	ClickersOrdered int     `json:"clickers_ordered"`
	ClickToOrder    float64 `json:"click_to_order"`
}

// Segment names.
const (
	SegmentHighValue = "high_value"
	SegmentNew       = "new"
	SegmentActive    = "active"
	SegmentAtRisk    = "at_risk"
	SegmentChurned   = "churned"
)

// Segments counts the users of each segment (SegmentRule); Users is their sum.
type Segments struct {
	Rule         string `json:"rule"`
	HighValueFen int64  `json:"high_value_fen"`
	Users        int    `json:"users"`
	HighValue    int    `json:"high_value"`
	New          int    `json:"new"`
	Active       int    `json:"active"`
	AtRisk       int    `json:"at_risk"`
	Churned      int    `json:"churned"`
}

// ChurnWarning is one user the at-risk rule names (SegmentRule), as published on the signals topic.
type ChurnWarning struct {
	User         string `json:"user"`
	Arm          string `json:"arm,omitempty"`
	Segment      string `json:"segment"`       // high_value or at_risk
	LastActive   string `json:"last_active"`   // YYYY-MM-DD, business time zone
	DaysInactive int    `json:"days_inactive"` // R - L
	GMV90dFen    int64  `json:"gmv_90d_fen"`
	Week         string `json:"week"` // ISO week of the report day, 2006-W01

	weekStart time.Time // Monday 00:00 of Week in the business time zone
}

// Proportion is X of N.
type Proportion struct {
	X    int     `json:"x"`
	N    int     `json:"n"`
	Rate float64 `json:"rate"`
}

func proportion(x, n int) Proportion { return Proportion{X: x, N: n, Rate: ratio(x, n)} }

// ZTest is a two-proportion z-test of an arm against the control.
type ZTest struct {
	Z float64 `json:"z"`
	P float64 `json:"p"`
}

// Arm is one A/B arm's rates (ArmsRule); the tests are nil for the control.
type Arm struct {
	Arm               string     `json:"arm"`
	Users             int        `json:"users"`
	Participation     Proportion `json:"participation"`
	Conversion        Proportion `json:"conversion"`
	RetentionD7       Proportion `json:"retention_d7"`
	ParticipationTest *ZTest     `json:"participation_test,omitempty"`
	ConversionTest    *ZTest     `json:"conversion_test,omitempty"`
	RetentionD7Test   *ZTest     `json:"retention_d7_test,omitempty"`
}

// Arms are the A/B arms, sorted by name; Control is the first.
type Arms struct {
	Rule    string `json:"rule"`
	Control string `json:"control,omitempty"`
	Arms    []Arm  `json:"arms"`
}

// userFlags is where a user stands in the funnel.
type userFlags struct{ viewer, participant, clicker, buyer bool }

func (a *Aggregator) userFlags() map[string]*userFlags {
	flags := map[string]*userFlags{}
	get := func(u string) *userFlags {
		f := flags[u]
		if f == nil {
			f = &userFlags{}
			flags[u] = f
		}
		return f
	}
	for _, s := range a.streams {
		for u := range s.viewers {
			f := get(u)
			f.viewer = true
			if _, ok := s.interacted[u]; ok {
				f.participant = true
			}
			if _, ok := s.clicked[u]; ok {
				f.clicker = true
			}
		}
	}
	for _, o := range a.orders {
		if o.user == "" || o.refunded || o.stream == "" {
			continue
		}
		if s := a.streams[o.stream]; s != nil {
			if _, ok := s.viewers[o.user]; ok {
				get(o.user).buyer = true
			}
		}
	}
	return flags
}

func (a *Aggregator) funnel() Funnel {
	f := Funnel{Rule: FunnelRule}
	for _, u := range a.userFlags() {
		if !u.viewer {
			continue
		}
		f.Viewers++
		f.Participants += b2i(u.participant)
		f.Clickers += b2i(u.clicker)
		f.Buyers += b2i(u.buyer)
	}
	return f
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *Aggregator) productFunnels() []Product {
	rows := map[string]*Product{}
	row := func(id string) *Product {
		p := rows[id]
		if p == nil {
			p = &Product{Product: id}
			rows[id] = p
		}
		return p
	}
	for id, ps := range a.products {
		p := row(id)
		p.Clicks, p.Clickers = ps.clicks, len(ps.firstClick)
	}
	ordered := map[string]map[string]bool{} // product → clickers who ordered it after clicking
	for _, o := range a.orders {
		if o.user == "" || o.refunded {
			continue
		}
		counted := map[string]bool{}
		for _, it := range o.items {
			if it.ProductID == "" {
				continue
			}
			p := row(it.ProductID)
			if !counted[it.ProductID] {
				p.Orders++
				counted[it.ProductID] = true
			}
			p.Units += it.Qty
			p.GMVFen += it.Qty * it.PriceFen
			if ps := a.products[it.ProductID]; ps != nil {
				if first, ok := ps.firstClick[o.user]; ok && !o.at.Before(first) {
					if ordered[it.ProductID] == nil {
						ordered[it.ProductID] = map[string]bool{}
					}
					ordered[it.ProductID][o.user] = true
				}
			}
		}
	}
	out := []Product{}
	for _, id := range slices.Sorted(maps.Keys(rows)) {
		p := rows[id]
		p.ClickersOrdered = len(ordered[id])
		p.ClickToOrder = ratio(p.ClickersOrdered, p.Clickers)
		out = append(out, *p)
	}
	return out
}

// spend90 is each user's GMV (orders not refunded whole, less partial refunds) paid on days today-89..today.
func (a *Aggregator) spend90(today int64) map[string]int64 {
	spend := map[string]int64{}
	for _, o := range a.orders {
		if o.user == "" || o.refunded || o.at.IsZero() {
			continue
		}
		if d := a.day(o.at); d <= today && d > today-90 {
			spend[o.user] += o.net()
		}
	}
	return spend
}

// segmentOf puts every user active by today in one segment (SegmentRule), and returns the churn warnings.
func (a *Aggregator) segmentOf(today int64) (map[string]string, []ChurnWarning) {
	spend := a.spend90(today)
	seg := map[string]string{}
	warnings := []ChurnWarning{}
	y, w := time.Unix(today*86400, 0).UTC().ISOWeek()
	week := isoWeek(y, w)
	monday := today - int64((time.Unix(today*86400, 0).UTC().Weekday()+6)%7)
	my, mm, md := time.Unix(monday*86400, 0).UTC().Date()
	weekStart := time.Date(my, mm, md, 0, 0, 0, 0, a.loc).UTC()
	for user, u := range a.users {
		first, ok := firstDay(u.activeDays, today)
		if !ok {
			continue
		}
		last := first
		for d := range u.activeDays {
			if d <= today {
				last = max(last, d)
			}
		}
		gone := today - last
		switch {
		case a.highValueFen > 0 && spend[user] >= a.highValueFen:
			seg[user] = SegmentHighValue
		case first >= today-6:
			seg[user] = SegmentNew
		case gone <= 14:
			seg[user] = SegmentActive
		case gone <= 30:
			seg[user] = SegmentAtRisk
		default:
			seg[user] = SegmentChurned
		}
		if gone >= 15 && gone <= 30 && !anonymous(user) { // an erased user is counted, never named
			warnings = append(warnings, ChurnWarning{
				User: user, Arm: u.arm.name, Segment: seg[user], LastActive: dayDate(last),
				DaysInactive: int(gone), GMV90dFen: spend[user], Week: week, weekStart: weekStart,
			})
		}
	}
	slices.SortFunc(warnings, func(x, y ChurnWarning) int {
		return cmp.Or(cmp.Compare(y.DaysInactive, x.DaysInactive), cmp.Compare(x.User, y.User))
	})
	return seg, warnings
}

func isoWeek(year, week int) string { return fmt.Sprintf("%04d-W%02d", year, week) }

func (a *Aggregator) segments(today int64) (Segments, []ChurnWarning) {
	seg, warnings := a.segmentOf(today)
	s := Segments{Rule: SegmentRule, HighValueFen: a.highValueFen, Users: len(seg)}
	for _, name := range seg {
		switch name {
		case SegmentHighValue:
			s.HighValue++
		case SegmentNew:
			s.New++
		case SegmentActive:
			s.Active++
		case SegmentAtRisk:
			s.AtRisk++
		case SegmentChurned:
			s.Churned++
		}
	}
	return s, warnings
}

func (a *Aggregator) arms(today int64) Arms {
	type counts struct{ users, viewers, participants, buyers, d7n, d7x int }
	by := map[string]*counts{}
	flags := a.userFlags()
	for user, u := range a.users {
		arm := u.arm.name
		if arm == "" {
			continue
		}
		c := by[arm]
		if c == nil {
			c = &counts{}
			by[arm] = c
		}
		c.users++
		if f := flags[user]; f != nil && f.viewer {
			c.viewers++
			c.participants += b2i(f.participant)
			c.buyers += b2i(f.buyer)
		}
		if first, ok := firstDay(u.activeDays, today); ok && first+7 <= today {
			c.d7n++
			if _, ok := u.activeDays[first+7]; ok {
				c.d7x++
			}
		}
	}
	out := Arms{Rule: ArmsRule, Arms: []Arm{}}
	names := slices.Sorted(maps.Keys(by))
	if len(names) == 0 {
		return out
	}
	out.Control = names[0]
	ctl := by[names[0]]
	for i, name := range names {
		c := by[name]
		arm := Arm{
			Arm:           name,
			Users:         c.users,
			Participation: proportion(c.participants, c.viewers),
			Conversion:    proportion(c.buyers, c.viewers),
			RetentionD7:   proportion(c.d7x, c.d7n),
		}
		if i > 0 {
			arm.ParticipationTest = twoProportion(ctl.participants, ctl.viewers, c.participants, c.viewers)
			arm.ConversionTest = twoProportion(ctl.buyers, ctl.viewers, c.buyers, c.viewers)
			arm.RetentionD7Test = twoProportion(ctl.d7x, ctl.d7n, c.d7x, c.d7n)
		}
		out.Arms = append(out.Arms, arm)
	}
	return out
}

// twoProportion is the pooled two-proportion z-test of x2/n2 against x1/n1: z and the two-sided p-value.
// When it cannot be computed (an n of 0, or every or no case a success in both) it is z = 0, p = 1.
func twoProportion(x1, n1, x2, n2 int) *ZTest {
	if n1 == 0 || n2 == 0 {
		return &ZTest{Z: 0, P: 1}
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return &ZTest{Z: 0, P: 1}
	}
	z := (p2 - p1) / se
	return &ZTest{Z: z, P: math.Erfc(math.Abs(z) / math.Sqrt2)}
}
