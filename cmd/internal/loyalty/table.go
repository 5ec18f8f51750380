package loyalty

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes r for people: one row per stream and an overall row, then retention, points, tiers
// and the churn-risk list.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	now := "-"
	if !r.Now.IsZero() {
		now = r.Now.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "as of %s: %d events (%d duplicates, %d invalid)\n\n", now, r.Events, r.Duplicates, r.Invalid)

	fmt.Fprintln(tw, "STREAM\tVIEWERS\tPARTICIPATION\tAVG WATCH\tNPS\tCSAT\tAVG RATING\tPOINTS ISSUED\tTITLE")
	for _, s := range r.Streams {
		streamRow(tw, s.Stream, s)
	}
	streamRow(tw, "ALL", r.Overall)
	fmt.Fprintln(tw)

	ret := r.Retention
	fmt.Fprintf(tw, "retention (%s)\n", ret.Rule)
	fmt.Fprintf(tw, "  day 1\t%s\n  day 7\t%s\n  day 30\t%s\n",
		cohort(ret.D1), cohort(ret.D7), cohort(ret.D30))
	for _, c := range ret.Cohorts {
		fmt.Fprintf(tw, "  cohort %s\t%d users  d1 %s  d7 %s  d30 %s\n", c.Day, c.Users, cohortPtr(c.D1), cohortPtr(c.D7), cohortPtr(c.D30))
	}
	f := r.Funnel
	fmt.Fprintf(tw, "funnel\tviewers %d → participants %d → clickers %d → buyers %d\n", f.Viewers, f.Participants, f.Clickers, f.Buyers)
	for _, p := range r.Products {
		fmt.Fprintf(tw, "  product %s\tclicks %d  clickers %d  orders %d  units %d  GMV ¥%.2f  click → order %s (%d)\n",
			p.Product, p.Clicks, p.Clickers, p.Orders, p.Units, float64(p.GMVFen)/100, pct(p.ClickToOrder), p.ClickersOrdered)
	}
	pu := r.Purchases
	fmt.Fprintf(tw, "purchases\torders %d (refunded %d)  buyers %d  repeat buyers %d (%s)  GMV ¥%.2f\n",
		pu.Orders, pu.Refunded, pu.Buyers, pu.RepeatBuyers, pct(pu.RepeatPurchaseRate), float64(pu.GMVFen)/100)
	for _, s := range append(slices.Clone(r.Streams), r.Overall) {
		if s.Orders == 0 {
			continue
		}
		name := s.Stream
		if name == "" {
			name = "ALL"
		}
		fmt.Fprintf(tw, "  %s\torders %d  buyers %d  GMV ¥%.2f  conversion %s\n", name, s.Orders, s.Buyers, float64(s.GMVFen)/100, pct(s.Conversion))
	}
	p := r.Points
	fmt.Fprintf(tw, "points\tissued %d (pending %d)  settled %d  redeemed %d  refunded %d + %d pending  expired %d  outstanding %d  pending %d  capped %d\n",
		p.Issued, p.IssuedPending, p.Settled, p.Redeemed, p.Reversed, p.Cancelled, p.Expired, p.Outstanding, p.Pending, p.Capped)
	fmt.Fprintf(tw, "tiers\tbronze %d  silver %d  gold %d\n",
		r.Tiers[TierBronze], r.Tiers[TierSilver], r.Tiers[TierGold])
	sg := r.Segments
	fmt.Fprintf(tw, "segments\thigh value %d (≥ ¥%.2f in 90 days)  new %d  active %d  at risk %d  churned %d  (of %d)\n",
		sg.HighValue, float64(sg.HighValueFen)/100, sg.New, sg.Active, sg.AtRisk, sg.Churned, sg.Users)
	for _, arm := range r.Arms.Arms {
		fmt.Fprintf(tw, "  arm %s\t%d users  participation %s%s  conversion %s%s  retention d7 %s%s\n", arm.Arm, arm.Users,
			prop(arm.Participation), ztest(arm.ParticipationTest), prop(arm.Conversion), ztest(arm.ConversionTest),
			prop(arm.RetentionD7), ztest(arm.RetentionD7Test))
	}
	fmt.Fprintf(tw, "churn warnings: %d users (last active 15-30 days ago)\n", len(r.ChurnWarnings))
	for _, w := range r.ChurnWarnings {
		fmt.Fprintf(tw, "  %s\t%s  last active %s (%d days)  GMV 90d ¥%.2f  %s\n", w.User, w.Segment, w.LastActive, w.DaysInactive, float64(w.GMV90dFen)/100, w.Week)
	}
	fmt.Fprintln(tw)

	fmt.Fprintf(tw, "churn risk: %d users (%s)\n", len(r.ChurnRisk), r.ChurnRule)
	if len(r.ChurnRisk) > 0 {
		fmt.Fprintln(tw, "USER\tREASON\tRISK\tLAST ACTIVE\tACTIVE DAYS LAST 7\tWEEKLY AVG PREV 4 WEEKS")
		for _, c := range r.ChurnRisk {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%d\t%.2f\n",
				c.User, c.Reason, c.Risk, c.LastActive, c.ActiveDaysLast7, c.WeeklyAvgPrev4Weeks)
		}
	}
	return tw.Flush()
}

func streamRow(w io.Writer, name string, s StreamMetrics) {
	nps, csat, rating := "-", "-", "-"
	if s.NPS.Responses > 0 {
		nps = fmt.Sprintf("%+.1f (%d)", s.NPS.Score, s.NPS.Responses)
	}
	if s.CSAT.Ratings > 0 {
		csat = fmt.Sprintf("%.1f%% (%d)", s.CSAT.Percent, s.CSAT.Ratings)
		rating = fmt.Sprintf("%.2f", s.CSAT.AvgRating)
	}
	watch := "-"
	if s.WatchViewers > 0 {
		watch = time.Duration(s.AvgWatchSeconds * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(w, "%s\t%d\t%.1f%% (%d)\t%s\t%s\t%s\t%s\t%d\t%s\n",
		name, s.Viewers, 100*s.ParticipationRate, s.Participants, watch, nps, csat, rating,
		s.PointsIssued, strings.ReplaceAll(s.Title, "\t", " "))
}

func cohort(c Cohort) string {
	if c.Users == 0 {
		return "- (no eligible users)"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*c.Rate, c.Retained, c.Users)
}

func cohortPtr(c *Cohort) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%d/%d)", pct(c.Rate), c.Retained, c.Users)
}

func prop(p Proportion) string { return fmt.Sprintf("%s (%d/%d)", pct(p.Rate), p.X, p.N) }

func ztest(z *ZTest) string {
	if z == nil {
		return ""
	}
	return fmt.Sprintf(" z=%+.2f p=%.3f", z.Z, z.P)
}

// pct writes a rate in [0, 1] as a percentage.
func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }
