package loyalty

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// RetentionRule is the retention definition (the playbook's day-N retention), repeated in
// Report.Retention.Rule: a user's cohort day D is the business day (the Aggregator's time zone, by default
// Asia/Shanghai) of their first visit, their first activity (a viewer.joined or any interaction, see
// activityTypes); day-N retention is the share of a cohort active on exactly day D+N. A cohort counts for
// day N only once day D+N has come: D+N <= the report day. Overall is the sum over those cohorts. Activity
// after the report time is ignored.
const RetentionRule = "cohort day D = business day of first visit (viewer.joined or any interaction); " +
	"day-N retention = share of the cohort active on exactly day D+N (N = 1, 7, 30); " +
	"a cohort counts for N only when D+N <= report day; overall = sum over those cohorts"

// ChurnRule is the churn-risk definition, repeated in Report.ChurnRule. Activity is counted in active
// days (business days with activity), relative to the report day R (the business day of the report time):
// last 7 days = R-6..R, previous 4 weeks = R-34..R-7, weekly average = active days in the previous 4
// weeks / 4. A user is at risk when
//   - "inactive_14d": active before R-13 but not on any day R-13..R (risk 1), or else
//   - "activity_drop": active days in the last 7 days < half their weekly average
//     (risk = 1 - last7 / weekly average, in (0.5, 1]).
//
// The list is sorted by risk (highest first), then by weekly average (largest loss first), then by last
// active day (longest gone first), then by user id.
const ChurnRule = "active days; last7 = R-6..R, weekly avg = active days in R-34..R-7 / 4; " +
	"inactive_14d: active before R-13, none in R-13..R (risk 1); " +
	"activity_drop: last7 < weekly avg / 2 (risk = 1 - last7/weekly avg)"

// Churn-risk reasons.
const (
	ReasonInactive = "inactive_14d"
	ReasonDrop     = "activity_drop"
)

// Report is a snapshot of the metrics. Rates are fractions in [0, 1]; CSAT is a percentage; NPS is a
// score from -100 to 100. Every ratio is 0 when its denominator is 0.
type Report struct {
	// Now is the report time: the --now time, else the newest event time. Retention and churn are
	// relative to it; the other metrics use every event.
	Now        time.Time `json:"now"`
	Events     int       `json:"events"`     // distinct events folded
	Duplicates int       `json:"duplicates"` // deliveries of an event id already folded
	Invalid    int       `json:"invalid"`    // events that could not be read

	Overall StreamMetrics   `json:"overall"` // every stream together; Stream is empty
	Streams []StreamMetrics `json:"streams"` // sorted by stream id

	Purchases Purchases      `json:"purchases"`
	Funnel    Funnel         `json:"funnel"`
	Products  []Product      `json:"products"` // click → order per product, sorted by product id
	Retention Retention      `json:"retention"`
	Points    Points         `json:"points"`
	Tiers     map[string]int `json:"tiers"` // users per tier; bronze, silver and gold are always present
	Segments  Segments       `json:"segments"`
	Arms      Arms           `json:"arms"`

	// ChurnWarnings are the users the at-risk rule (SegmentRule) names, whatever their segment: the
	// kudos.churn.warning events the consumer publishes to the signals topic.
	ChurnWarnings []ChurnWarning `json:"churn_warnings"`

	ChurnRule string      `json:"churn_rule"`
	ChurnRisk []ChurnRisk `json:"churn_risk"`
}

// StreamMetrics are the per-stream metrics (and, with no Stream, the overall ones).
type StreamMetrics struct {
	Stream string `json:"stream,omitempty"`
	Title  string `json:"title,omitempty"`

	// Viewers joined with the viewer role; Participants are those of them who also did an interaction
	// on the stream (ParticipationRule: comment, like, poll vote, quiz answer, feedback, coupon claim, draw
	// entry, question, product click, order). Overall, a user counts once: a viewer of any stream, a
	// participant of any stream.
	Viewers           int     `json:"viewers"`
	Participants      int     `json:"participants"`
	ParticipationRate float64 `json:"participation_rate"`

	// WatchViewers are the viewers with at least one viewer.left; AvgWatchSeconds is their watch
	// seconds (summed over their sessions) averaged per viewer. Overall, per (stream, viewer) pair.
	WatchViewers    int     `json:"watch_viewers"`
	AvgWatchSeconds float64 `json:"avg_watch_seconds_per_viewer"`

	NPS  NPS  `json:"nps"`
	CSAT CSAT `json:"csat"`

	PointsIssued int64 `json:"points_issued"` // points.awarded; overall also those with no stream

	// Orders and GMVFen count the stream's purchase.recorded events that no purchase.refunded undid;
	// Buyers are their distinct users; Conversion is Buyers / Viewers (the playbook's 转化率: of those who
	// watched, how many bought). Overall, every order, attributed to a stream or not.
	Orders     int     `json:"orders"`
	Buyers     int     `json:"buyers"`
	GMVFen     int64   `json:"gmv_fen"`
	Conversion float64 `json:"conversion"`

	// Clickers are the viewers who clicked a product of the stream's shelf.
	Clickers int `json:"clickers"`
}

// Purchases are the orders of every stream and of none: RepeatBuyers bought at least twice (orders not
// refunded whole), RepeatPurchaseRate = RepeatBuyers / Buyers (the playbook's 复购率). An order refunded
// whole counts in Refunded only; a partial refund lowers GMV by its amount_fen.
type Purchases struct {
	Orders             int     `json:"orders"`
	Refunded           int     `json:"refunded"`
	Buyers             int     `json:"buyers"`
	RepeatBuyers       int     `json:"repeat_buyers"`
	RepeatPurchaseRate float64 `json:"repeat_purchase_rate"`
	GMVFen             int64   `json:"gmv_fen"`
}

// NPS is the Net Promoter Score over each user's latest nps answer per stream (overall: per stream and
// user): % promoters (9-10) - % detractors (0-6).
type NPS struct {
	Responses  int     `json:"responses"`
	Promoters  int     `json:"promoters"`
	Passives   int     `json:"passives"`
	Detractors int     `json:"detractors"`
	Score      float64 `json:"score"`
}

// CSAT is customer satisfaction over each user's latest rating (1-5) per stream: the percentage of
// ratings that are 4 or 5, and the average rating.
type CSAT struct {
	Ratings   int     `json:"ratings"`
	Satisfied int     `json:"satisfied"`
	Percent   float64 `json:"csat_percent"`
	AvgRating float64 `json:"avg_rating"`
}

// Retention is day-1/7/30 retention as defined by RetentionRule, overall, per cohort day, and as a curve.
type Retention struct {
	Rule string `json:"rule"`
	D1   Cohort `json:"d1"`
	D7   Cohort `json:"d7"`
	D30  Cohort `json:"d30"`

	// Cohorts are the cohorts by first-visit day, oldest first; a figure whose day has not come is nil.
	Cohorts []CohortDay `json:"cohorts"`
	// Curve is day-N retention for N = 0..30 (the overall of the cohorts whose day D+N has come).
	Curve []Cohort `json:"curve"`
}

// CohortDay is the cohort of one first-visit day.
type CohortDay struct {
	Day   string  `json:"day"` // YYYY-MM-DD, business time zone
	Users int     `json:"users"`
	D1    *Cohort `json:"d1"`
	D7    *Cohort `json:"d7"`
	D30   *Cohort `json:"d30"`
}

// Cohort is one retention figure: Retained of Users, and their ratio.
type Cohort struct {
	Users    int     `json:"users"`
	Retained int     `json:"retained"`
	Rate     float64 `json:"rate"`
}

// PointsRule defines Points.
const PointsRule = "outstanding = awarded (not pending) + settled - redeemed - refunded (reversed) - expired; " +
	"pending = awarded pending - settled - refunded (cancelled), counted separately; capped never issued"

// Points sums the ledger's events (PointsRule): Issued is every points.awarded (IssuedPending of them
// pending), Settled the points.settled, Cancelled and Reversed the purchase.refunded's points taken back
// from pending and from the balance, Redeemed the points.redeemed cost, Expired the points.expired.
// Outstanding is what users can still spend, Pending what they will once the return windows end.
type Points struct {
	Rule          string `json:"rule"`
	Issued        int64  `json:"issued"`
	IssuedPending int64  `json:"issued_pending"`
	Settled       int64  `json:"settled"`
	Redeemed      int64  `json:"redeemed"`
	Cancelled     int64  `json:"refunded_cancelled"`
	Reversed      int64  `json:"refunded_reversed"`
	Expired       int64  `json:"expired"`
	Outstanding   int64  `json:"outstanding"`
	Pending       int64  `json:"pending"`
	Capped        int64  `json:"capped"`
}

// ChurnRisk is one user at risk of churning, as defined by ChurnRule.
type ChurnRisk struct {
	User                string  `json:"user"`
	Reason              string  `json:"reason"`
	Risk                float64 `json:"risk"`
	LastActive          string  `json:"last_active"` // business date
	ActiveDaysLast7     int     `json:"active_days_last_7"`
	WeeklyAvgPrev4Weeks float64 `json:"weekly_avg_active_days_prev_4_weeks"`
}

// Report computes the metrics as of now; a zero now means the newest event time.
func (a *Aggregator) Report(now time.Time) Report {
	if now.IsZero() {
		now = a.newest
	}
	r := Report{
		Now:        now.UTC(),
		Events:     a.events,
		Duplicates: a.duplicates,
		Invalid:    a.invalid,
		Streams:    []StreamMetrics{},
		Points: Points{
			Rule:          PointsRule,
			Issued:        a.pointsIssued,
			IssuedPending: a.pointsPending,
			Settled:       a.pointsSettled,
			Redeemed:      a.pointsRedeemed,
			Cancelled:     a.pointsCancelled,
			Reversed:      a.pointsReversed,
			Expired:       a.pointsExpired,
			Outstanding: a.pointsIssued - a.pointsPending + a.pointsSettled - a.pointsRedeemed -
				a.pointsReversed - a.pointsExpired,
			Pending: a.pointsPending - a.pointsSettled - a.pointsCancelled,
			Capped:  a.pointsCapped,
		},
		ChurnRule:     ChurnRule,
		ChurnRisk:     []ChurnRisk{},
		ChurnWarnings: []ChurnWarning{},
		Segments:      Segments{Rule: SegmentRule, HighValueFen: a.highValueFen},
		Arms:          Arms{Rule: ArmsRule, Arms: []Arm{}},
		Retention:     Retention{Rule: RetentionRule, Cohorts: []CohortDay{}, Curve: []Cohort{}},
	}
	r.Overall, r.Streams = a.streamMetrics()
	r.Purchases = a.purchases(&r)
	r.Funnel = a.funnel()
	r.Overall.Clickers = r.Funnel.Clickers
	r.Products = a.productFunnels()
	r.Tiers = a.tiers()
	if !now.IsZero() {
		today := a.day(now)
		r.Retention = a.retention(today)
		r.ChurnRisk = a.churn(today)
		r.Segments, r.ChurnWarnings = a.segments(today)
		r.Arms = a.arms(today)
	}
	return r
}

// tally accumulates the sums behind StreamMetrics.
type tally struct {
	viewers, participants, watchViewers int
	watchSeconds                        int64
	nps                                 NPS
	ratings, satisfied, ratingSum       int
}

func (t *tally) addStream(s *streamState) {
	for user, secs := range s.watch {
		if _, ok := s.staff[user]; ok {
			if _, viewer := s.viewers[user]; !viewer {
				continue
			}
		}
		t.watchViewers++
		t.watchSeconds += secs
	}
	for _, a := range s.nps {
		t.nps.Responses++
		switch {
		case a.score >= 9:
			t.nps.Promoters++
		case a.score >= 7:
			t.nps.Passives++
		default:
			t.nps.Detractors++
		}
	}
	for _, a := range s.ratings {
		t.ratings++
		t.ratingSum += a.score
		if a.score >= 4 {
			t.satisfied++
		}
	}
}

func (t *tally) metrics() StreamMetrics {
	m := StreamMetrics{
		Viewers:           t.viewers,
		Participants:      t.participants,
		ParticipationRate: ratio(t.participants, t.viewers),
		WatchViewers:      t.watchViewers,
		NPS:               t.nps,
		CSAT: CSAT{
			Ratings:   t.ratings,
			Satisfied: t.satisfied,
			Percent:   ratio(100*t.satisfied, t.ratings),
			AvgRating: ratio(t.ratingSum, t.ratings),
		},
	}
	if t.watchViewers > 0 {
		m.AvgWatchSeconds = float64(t.watchSeconds) / float64(t.watchViewers)
	}
	m.NPS.Score = ratio(100*(t.nps.Promoters-t.nps.Detractors), t.nps.Responses)
	return m
}

// ratio is n/d, rounded once, or 0 when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func (a *Aggregator) streamMetrics() (StreamMetrics, []StreamMetrics) {
	var all tally
	viewers := make(map[string]struct{})
	participants := make(map[string]struct{})
	var rows []StreamMetrics
	for _, id := range slices.Sorted(maps.Keys(a.streams)) {
		s := a.streams[id]
		var t tally
		clickers := 0
		t.viewers = len(s.viewers)
		for user := range s.viewers {
			viewers[user] = struct{}{}
			if _, ok := s.interacted[user]; ok {
				t.participants++
				participants[user] = struct{}{}
			}
			if _, ok := s.clicked[user]; ok {
				clickers++
			}
		}
		t.addStream(s)
		all.addStream(s)
		m := t.metrics()
		m.Stream, m.Title, m.PointsIssued, m.Clickers = id, s.title, s.pointsIssued, clickers
		rows = append(rows, m)
	}
	all.viewers, all.participants = len(viewers), len(participants)
	overall := all.metrics()
	overall.PointsIssued = a.pointsIssued
	if rows == nil {
		rows = []StreamMetrics{}
	}
	return overall, rows
}

func (a *Aggregator) tiers() map[string]int {
	t := map[string]int{TierBronze: 0, TierSilver: 0, TierGold: 0}
	for _, u := range a.users {
		name := u.tier.name
		if name == "" {
			name = TierBronze
		}
		t[name]++
	}
	return t
}

func (a *Aggregator) retention(today int64) Retention {
	r := Retention{Rule: RetentionRule, Cohorts: []CohortDay{}, Curve: make([]Cohort, 31)}
	type cohort struct {
		users  int
		active [31]int // active on D+N
	}
	cohorts := map[int64]*cohort{}
	for _, u := range a.users {
		first, ok := firstDay(u.activeDays, today)
		if !ok {
			continue
		}
		c := cohorts[first]
		if c == nil {
			c = &cohort{}
			cohorts[first] = c
		}
		c.users++
		for n := range int64(31) {
			if _, ok := u.activeDays[first+n]; ok && first+n <= today {
				c.active[n]++
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(cohorts)) {
		c := cohorts[d]
		row := CohortDay{Day: dayDate(d), Users: c.users}
		for n := range int64(31) {
			if d+n > today {
				break
			}
			r.Curve[n].Users += c.users
			r.Curve[n].Retained += c.active[n]
		}
		for _, f := range []struct {
			n   int64
			dst **Cohort
		}{{1, &row.D1}, {7, &row.D7}, {30, &row.D30}} {
			if d+f.n <= today {
				*f.dst = &Cohort{Users: c.users, Retained: c.active[f.n], Rate: ratio(c.active[f.n], c.users)}
			}
		}
		r.Cohorts = append(r.Cohorts, row)
	}
	for n := range r.Curve {
		r.Curve[n].Rate = ratio(r.Curve[n].Retained, r.Curve[n].Users)
	}
	r.D1, r.D7, r.D30 = r.Curve[1], r.Curve[7], r.Curve[30]
	return r
}

// firstDay is the earliest active day not after today.
func firstDay(days map[int64]struct{}, today int64) (int64, bool) {
	var first int64
	found := false
	for d := range days {
		if d <= today && (!found || d < first) {
			first, found = d, true
		}
	}
	return first, found
}

func (a *Aggregator) churn(today int64) []ChurnRisk {
	risks := []ChurnRisk{}
	for user, u := range a.users {
		if anonymous(user) { // erased: counted, never named
			continue
		}
		var last7, prev4w, last14, before int
		last := int64(-1 << 62)
		for d := range u.activeDays {
			if d > today {
				continue
			}
			last = max(last, d)
			switch {
			case d > today-7:
				last7++
			case d > today-35:
				prev4w++
			}
			if d > today-14 {
				last14++
			} else {
				before++
			}
		}
		c := ChurnRisk{
			User:                user,
			ActiveDaysLast7:     last7,
			WeeklyAvgPrev4Weeks: float64(prev4w) / 4,
		}
		switch {
		case before > 0 && last14 == 0:
			c.Reason, c.Risk = ReasonInactive, 1
		case 8*last7 < prev4w: // last7 < (prev4w / 4) / 2
			c.Reason, c.Risk = ReasonDrop, ratio(prev4w-4*last7, prev4w)
		default:
			continue
		}
		c.LastActive = dayDate(last)
		risks = append(risks, c)
	}
	slices.SortFunc(risks, func(x, y ChurnRisk) int {
		return cmp.Or(
			cmp.Compare(y.Risk, x.Risk),
			cmp.Compare(y.WeeklyAvgPrev4Weeks, x.WeeklyAvgPrev4Weeks),
			cmp.Compare(x.LastActive, y.LastActive),
			cmp.Compare(x.User, y.User),
		)
	})
	return risks
}

// purchases sums the orders, and fills each stream's (and the overall) sales in r.
func (a *Aggregator) purchases(r *Report) Purchases {
	var p Purchases
	perUser := map[string]int{}
	type sales struct {
		orders int
		gmv    int64
		buyers map[string]struct{}
	}
	byStream := map[string]*sales{}
	for _, o := range a.orders {
		if o.user == "" { // a refund whose purchase was never seen
			continue
		}
		if o.refunded {
			p.Refunded++
			continue
		}
		p.Orders++
		p.GMVFen += o.net()
		perUser[o.user]++
		s := byStream[o.stream]
		if s == nil {
			s = &sales{buyers: map[string]struct{}{}}
			byStream[o.stream] = s
		}
		s.orders++
		s.gmv += o.net()
		s.buyers[o.user] = struct{}{}
	}
	p.Buyers = len(perUser)
	for _, n := range perUser {
		if n >= 2 {
			p.RepeatBuyers++
		}
	}
	p.RepeatPurchaseRate = ratio(p.RepeatBuyers, p.Buyers)
	for i := range r.Streams {
		m := &r.Streams[i]
		if s := byStream[m.Stream]; s != nil {
			m.Orders, m.GMVFen, m.Buyers = s.orders, s.gmv, len(s.buyers)
			m.Conversion = ratio(m.Buyers, m.Viewers)
		}
	}
	r.Overall.Orders, r.Overall.GMVFen, r.Overall.Buyers = p.Orders, p.GMVFen, p.Buyers
	r.Overall.Conversion = ratio(p.Buyers, r.Overall.Viewers)
	return p
}
