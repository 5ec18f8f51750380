package loyalty

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// The playbook set: a shop's 42 days in Beijing time, 2026-01-01 (day 0) to the report day 2026-02-11
// (day 41, a Wednesday; R = 41), across the January/February boundary, with 24 customers in two A/B arms and
// one host. Every figure of the report is worked out by hand in wantPlaybook's comments from the table below.
//
// Streams: s-daily, an always-on channel the u- and m-users join on their active days (at 12:00 unless
// said); s-jan, the New Year sale on day 30 (Sat 2026-01-31) from 20:00; s-feb, a show on day 38
// (Sun 2026-02-08) from 20:00, hosted by h1.
//
//	user arm  active days (Beijing)  what they do
//	u01  a    0 1 7 30 41            s-jan (day 30): joins, comments, NPS 7; redeems 200 points and 30 expire
//	                                 on day 41; its day-41 event carries variant b (the earliest one counts)
//	u02  b    0 1
//	u03  a    0 7
//	u04  b    0 30                   s-jan: joins, NPS 10
//	u05  a    5 6 12 35              day 35: order o6 with no stream, 1 cup (¥1200)
//	u06  b    5 20                   day 20: order o9 with no stream, ¥1000 (no lines)
//	u07  a    10 17 18
//	u08  b    11 12 41               day 12: order o7 with no stream, ¥200; ¥50 of it refunded on day 25
//	u09  a    20 21 27
//	u10  b    20 26
//	u11  a    10
//	u12  b    11
//	m1   a    30 31                  joins s-jan at 23:59 on Jan 31 and votes; joins s-daily at 00:01 Feb 1
//	                                 (both 31 January in UTC)
//	m2   b    31 38                  joins s-daily at 00:30 Feb 1 (31 January in UTC); s-feb: joins, likes,
//	                                 NPS 3, rating 5
//	m3   a    31                     joins s-daily at 07:59 and 08:01 Feb 1 (two UTC days, one Beijing day)
//	n1   b    30 38                  s-jan: joins, likes, clicks tea, order o1 2 tea (¥100), rates 1 then 5;
//	                                 s-feb: joins, clicks tea, order o3 1 tea (¥50)
//	n2   a    30 39                  s-jan: joins, clicks tea and cup, order o2 1 cup (¥1200); redeems on day 39
//	n3   b    30                     s-jan: joins only
//	n4   a    30                     s-jan: joins, rates 2
//	n5   a    38                     s-feb: joins, clicks cup, order o4 1 cup (¥1200), refunded whole on day 40
//	n6   b    38                     s-feb: joins, order o5 3 tea (¥150) at 20:40, clicks tea at 20:45;
//	                                 ¥50 refunded on day 40
//	n7   a    38                     s-feb: joins, asks a question, NPS 9, rates 4
//	n8   b    38                     s-feb: joins, NPS 10
//	n9   a    38                     s-feb: joins only
//	h1   -    38                     s-feb: joins as host, comments (no variant)
//
// Products: tea at ¥50 (5000 fen), cup at ¥1200 (120000 fen).
var playbookLoc = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// bj is day d of the playbook set (day 0 = 2026-01-01) at hh:mm:ss Beijing time.
func bj(d, hh, mm, ss int) time.Time {
	return time.Date(2026, 1, 1+d, hh, mm, ss, 0, playbookLoc)
}

var playbookArm = map[string]string{
	"u01": "a", "u02": "b", "u03": "a", "u04": "b", "u05": "a", "u06": "b", "u07": "a", "u08": "b",
	"u09": "a", "u10": "b", "u11": "a", "u12": "b", "m1": "a", "m2": "b", "m3": "a",
	"n1": "b", "n2": "a", "n3": "b", "n4": "a", "n5": "a", "n6": "b", "n7": "a", "n8": "b", "n9": "a",
}

// playbookEvents returns the set's events in delivery order, with one redelivery.
func playbookEvents(tb testing.TB) []engagement.Event {
	tb.Helper()
	var evs []engagement.Event
	type m = map[string]any
	add := func(typ, stream, user, variant string, at time.Time, data m) engagement.Event {
		tb.Helper()
		e, err := engagement.NewEvent("kudos/test", typ, stream, user, variant, at, data)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, e)
		return e
	}
	do := func(typ, stream, user string, at time.Time, data m) engagement.Event {
		tb.Helper()
		if stream != "" {
			data["stream"] = stream
		}
		return add(typ, stream, user, playbookArm[user], at, data)
	}
	join := func(stream, user string, at time.Time) {
		do(engagement.EventViewerJoined, stream, user, at, m{"role": "viewer"})
	}
	daily := map[string][]int{
		"u01": {0, 1, 7}, "u02": {0, 1}, "u03": {0, 7}, "u04": {0}, "u05": {5, 6, 12, 35}, "u06": {5, 20},
		"u07": {10, 17, 18}, "u08": {11, 12, 41}, "u09": {20, 21, 27}, "u10": {20, 26}, "u11": {10}, "u12": {11},
	}
	for _, u := range slices.Sorted(func(yield func(string) bool) {
		for u := range daily {
			if !yield(u) {
				return
			}
		}
	}) {
		for _, d := range daily[u] {
			join("s-daily", u, bj(d, 12, 0, 0))
		}
	}
	// u01 on day 41 with another variant: its arm stays a (the earliest event's).
	add(engagement.EventViewerJoined, "s-daily", "u01", "b", bj(41, 12, 0, 0), m{"stream": "s-daily", "role": "viewer"})
	join("s-daily", "m1", bj(31, 0, 1, 0))
	join("s-daily", "m2", bj(31, 0, 30, 0))
	join("s-daily", "m3", bj(31, 7, 59, 0))
	join("s-daily", "m3", bj(31, 8, 1, 0))

	buy := func(order, stream, user string, at time.Time, fen int64, items []m) {
		tb.Helper()
		data := m{"order_id": order, "amount_fen": fen, "points": fen / 100}
		if items != nil {
			data["items"] = items
		}
		if stream == "" {
			data["stream"] = ""
		}
		do(engagement.EventPurchaseRecorded, stream, user, at, data)
	}
	tea := func(qty int) []m { return []m{{"product_id": "tea", "qty": qty, "price_fen": 5000}} }
	cup := []m{{"product_id": "cup", "qty": 1, "price_fen": 120000}}
	click := func(stream, user, product string, at time.Time) {
		do(engagement.EventProductClicked, stream, user, at, m{"product_id": product})
	}
	feedback := func(stream, user, kind string, score int, at time.Time) {
		do(engagement.EventFeedbackGiven, stream, user, at, m{"kind": kind, "score": score})
	}

	// s-jan, day 30.
	do(engagement.EventStreamStarted, "s-jan", "", bj(30, 20, 0, 0), m{"title": "年货节 New Year sale", "host": "h1"})
	for _, u := range []string{"u01", "u04", "n1", "n2", "n3", "n4"} {
		join("s-jan", u, bj(30, 20, 1, 0))
	}
	do(engagement.EventCommentPosted, "s-jan", "u01", bj(30, 20, 5, 0), m{"comment_id": "C1", "length": 2, "text": "好!"})
	feedback("s-jan", "u01", "nps", 7, bj(30, 21, 30, 0))
	feedback("s-jan", "u04", "nps", 10, bj(30, 21, 31, 0))
	do(engagement.EventLikeSent, "s-jan", "n1", bj(30, 20, 6, 0), m{"count": 3})
	click("s-jan", "n1", "tea", bj(30, 20, 10, 0))
	buy("o1", "s-jan", "n1", bj(30, 20, 30, 0), 10000, tea(2))
	feedback("s-jan", "n1", "rating", 1, bj(30, 20, 50, 0))
	feedback("s-jan", "n1", "rating", 5, bj(30, 21, 0, 0)) // latest
	click("s-jan", "n2", "tea", bj(30, 20, 15, 0))
	click("s-jan", "n2", "cup", bj(30, 20, 16, 0))
	buy("o2", "s-jan", "n2", bj(30, 20, 40, 0), 120000, cup)
	feedback("s-jan", "n4", "rating", 2, bj(30, 21, 0, 0))
	join("s-jan", "m1", bj(30, 23, 59, 0))
	do(engagement.EventPollVoted, "s-jan", "m1", bj(30, 23, 59, 30), m{"poll_id": "p1", "option": 0})

	// s-feb, day 38.
	do(engagement.EventStreamStarted, "s-feb", "", bj(38, 20, 0, 0), m{"title": "情人节 Valentine's", "host": "h1"})
	add(engagement.EventViewerJoined, "s-feb", "h1", "", bj(38, 19, 55, 0), m{"stream": "s-feb", "role": "host"})
	add(engagement.EventCommentPosted, "s-feb", "h1", "", bj(38, 20, 2, 0), m{"stream": "s-feb", "comment_id": "C2", "length": 2, "text": "欢迎"})
	for _, u := range []string{"m2", "n1", "n5", "n6", "n7", "n8", "n9"} {
		join("s-feb", u, bj(38, 20, 1, 0))
	}
	do(engagement.EventLikeSent, "s-feb", "m2", bj(38, 20, 3, 0), m{"count": 1})
	feedback("s-feb", "m2", "nps", 3, bj(38, 21, 0, 0))
	feedback("s-feb", "m2", "rating", 5, bj(38, 21, 0, 1))
	click("s-feb", "n1", "tea", bj(38, 20, 5, 0))
	buy("o3", "s-feb", "n1", bj(38, 20, 20, 0), 5000, tea(1))
	click("s-feb", "n5", "cup", bj(38, 20, 6, 0))
	buy("o4", "s-feb", "n5", bj(38, 20, 30, 0), 120000, cup)
	buy("o5", "s-feb", "n6", bj(38, 20, 40, 0), 15000, tea(3))
	click("s-feb", "n6", "tea", bj(38, 20, 45, 0)) // after the order: not a click → order
	do(engagement.EventQuestionAsked, "s-feb", "n7", bj(38, 20, 10, 0), m{"question_id": "01kkq0000000000000000000aa", "text": "有大码吗?"})
	feedback("s-feb", "n7", "nps", 9, bj(38, 21, 0, 0))
	feedback("s-feb", "n7", "rating", 4, bj(38, 21, 0, 1))
	feedback("s-feb", "n8", "nps", 10, bj(38, 21, 0, 0))

	// Orders with no stream.
	buy("o6", "", "u05", bj(35, 13, 0, 0), 120000, cup)
	buy("o9", "", "u06", bj(20, 13, 0, 0), 100000, nil)
	buy("o7", "", "u08", bj(12, 13, 0, 0), 20000, nil)

	// Refunds: o7 ¥50 after its points settled, o4 whole within its window, o5 one tea within its window.
	refund := func(order, user string, at time.Time, cancelled, reversed int64, full bool, fen int64) {
		do(engagement.EventPurchaseRefunded, "", user, at, m{"order_id": order, "cancelled": cancelled, "reversed": reversed,
			"shortfall": 0, "balance": 0, "full": full, "refund_id": "r-" + order, "amount_fen": fen})
	}
	refund("o7", "u08", bj(25, 9, 0, 0), 0, 50, false, 5000)
	refund("o4", "n5", bj(40, 9, 0, 0), 1200, 0, true, 120000)
	refund("o5", "n6", bj(40, 9, 0, 0), 50, 0, false, 5000)

	// Points.
	award := func(user, key string, points int64, pending bool, at time.Time) engagement.Event {
		return do(engagement.EventPointsAwarded, "", user, at, m{"key": key, "source": "purchase", "points": points, "balance": 0, "pending": pending})
	}
	settle := func(user, order string, points int64, at time.Time) {
		do(engagement.EventPointsSettled, "", user, at, m{"key": "order:" + order, "order_id": order, "points": points, "balance": 0})
	}
	award("u05", "order:o6", 1200, true, bj(35, 13, 0, 0))
	settle("u05", "o6", 1200, bj(41, 8, 0, 0))
	award("n1", "order:o1", 100, true, bj(30, 20, 30, 0))
	settle("n1", "o1", 100, bj(37, 20, 30, 0))
	award("n1", "order:o3", 50, true, bj(38, 20, 20, 0))
	award("n5", "order:o4", 1200, true, bj(38, 20, 30, 0))
	award("n6", "order:o5", 150, true, bj(38, 20, 40, 0))
	watch := award("u01", "watch:u01", 300, false, bj(7, 12, 30, 0))
	award("n2", "order:o2", 1200, true, bj(30, 20, 40, 0))
	settle("n2", "o2", 1200, bj(37, 20, 40, 0))
	award("u08", "order:o7", 200, true, bj(12, 13, 0, 0))
	settle("u08", "o7", 200, bj(19, 13, 0, 0))
	award("u06", "order:o9", 1000, true, bj(20, 13, 0, 0))
	settle("u06", "o9", 1000, bj(27, 13, 0, 0))
	do(engagement.EventPointsRedeemed, "", "u01", bj(41, 12, 5, 0), m{"reward_id": "r1", "request_id": "q1", "cost": 200, "balance": 100})
	do(engagement.EventPointsExpired, "", "u01", bj(41, 0, 0, 5), m{"points": 30, "balance": 70})
	do(engagement.EventPointsRedeemed, "", "n2", bj(39, 10, 0, 0), m{"reward_id": "r1", "request_id": "q2", "cost": 500, "balance": 700})

	evs = append(evs, watch) // at least once: a redelivery is not counted again
	return evs
}

// playbookNow is the report time: day 41 at 22:00 Beijing.
var playbookNow = bj(41, 22, 0, 0)

func playbookAggregator(tb testing.TB, evs []engagement.Event) *Aggregator {
	tb.Helper()
	a := NewAggregator() // Asia/Shanghai, the default business time zone
	for _, e := range evs {
		if _, err := a.Add(e); err != nil {
			tb.Fatalf("%s: %v", e.Type, err)
		}
	}
	return a
}

func c(users, retained int) Cohort {
	return Cohort{Users: users, Retained: retained, Rate: ratio(retained, users)}
}
func pc(users, retained int) *Cohort { x := c(users, retained); return &x }

func TestPlaybookRetention(t *testing.T) {
	r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow).Retention
	// Cohorts (first active day D): 0 = u01..u04; 5 = u05 u06; 10 = u07 u11; 11 = u08 u12; 20 = u09 u10;
	// 30 = m1 n1 n2 n3 n4; 31 = m2 m3; 38 = n5..n9 h1. 25 users.
	want := Retention{
		Rule: RetentionRule,
		// D1, every cohort (D <= 40): day 1 u01 u02; day 6 u05; day 12 u08; day 21 u09; day 31 m1 (23:59 → 00:01
		// Beijing); not m3 (07:59 and 08:01 are one Beijing day). 6 of 25.
		D1: c(25, 6),
		// D7, D <= 34 (19 users): day 7 u01 u03; day 12 u05; day 17 u07; day 27 u09; day 38 m2. 6 of 19.
		D7: c(19, 6),
		// D30, D <= 11 (10 users): day 30 u01 u04; day 35 u05; day 41 u08. 4 of 10.
		D30: c(10, 4),
		Cohorts: []CohortDay{
			{Day: "2026-01-01", Users: 4, D1: pc(4, 2), D7: pc(4, 2), D30: pc(4, 2)},
			{Day: "2026-01-06", Users: 2, D1: pc(2, 1), D7: pc(2, 1), D30: pc(2, 1)},
			{Day: "2026-01-11", Users: 2, D1: pc(2, 0), D7: pc(2, 1), D30: pc(2, 0)}, // day 40 <= 41
			{Day: "2026-01-12", Users: 2, D1: pc(2, 1), D7: pc(2, 0), D30: pc(2, 1)}, // day 41 <= 41
			{Day: "2026-01-21", Users: 2, D1: pc(2, 1), D7: pc(2, 1)},
			{Day: "2026-01-31", Users: 5, D1: pc(5, 1), D7: pc(5, 0)},
			{Day: "2026-02-01", Users: 2, D1: pc(2, 0), D7: pc(2, 1)},
			{Day: "2026-02-08", Users: 6, D1: pc(6, 0)},
		},
		// Users on day D+N: all 25 for N <= 3, without cohort 38 (6) for N <= 10, without 31 (2) for N = 11,
		// without 30 (5) for N <= 21, without 20 (2) for N <= 30.
		// Active on D+N (offsets from D): D0 {0,1,7,30}×{4,2,2,2}; D5 u05 {0,1,7,30} u06 {0,15};
		// D10 u07 {0,7,8} u11 {0}; D11 u08 {0,1,30} u12 {0}; D20 u09 {0,1,7} u10 {0,6};
		// D30 m1 {0,1} n1 {0,8} n2 {0,9} n3 n4 {0}; D31 m2 {0,7} m3 {0}; D38 {0}×6.
		Curve: []Cohort{
			c(25, 25), c(25, 6), c(25, 0), c(25, 0), // N 0..3
			c(19, 0), c(19, 0), c(19, 1), c(19, 6), c(19, 2), c(19, 1), c(19, 0), // N 4..10: u10; 7 as D7; u07 n1; n2
			c(17, 0),                                                   // N 11
			c(12, 0), c(12, 0), c(12, 0), c(12, 1), c(12, 0), c(12, 0), // N 12..17: u06 on 15
			c(12, 0), c(12, 0), c(12, 0), c(12, 0), // N 18..21
			c(10, 0), c(10, 0), c(10, 0), c(10, 0), c(10, 0), c(10, 0), c(10, 0), c(10, 0), // N 22..29
			c(10, 4), // N 30
		},
	}
	if !reflect.DeepEqual(r, want) {
		gj, _ := json.MarshalIndent(r, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("retention\ngot  %s\nwant %s", gj, wj)
	}

	// In UTC the same events make other days: m1's 23:59 and 00:01 Beijing are one UTC day (no D1), m3's
	// 07:59 and 08:01 two (D1): still 6 of 25 overall, but the cohorts of 2026-01-31 and 2026-02-01 differ.
	a := NewAggregatorIn(time.UTC)
	for _, e := range playbookEvents(t) {
		a.Add(e)
	}
	utc := a.Report(playbookNow).Retention
	if reflect.DeepEqual(utc.Cohorts, want.Cohorts) {
		t.Error("UTC days give the same cohorts as Beijing days")
	}
}

func TestPlaybookShowsAndSales(t *testing.T) {
	r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow)
	got := map[string]StreamMetrics{}
	for _, s := range r.Streams {
		s.Title = ""
		got[s.Stream] = s
	}
	want := map[string]StreamMetrics{
		// u01..u12, m1 m2 m3 joined; no one did anything there.
		"s-daily": {Stream: "s-daily", Viewers: 15},
		"s-jan": {
			Stream: "s-jan",
			// u01 u04 n1 n2 n3 n4 m1 joined; all but n3 did something (comment, NPS, like, click, rating, vote).
			Viewers: 7, Participants: 6, ParticipationRate: 6.0 / 7,
			// NPS: u04 10 promoter, u01 7 passive: (1 - 0) / 2 = 50.
			NPS: NPS{Responses: 2, Promoters: 1, Passives: 1, Score: 50},
			// Ratings: n1 5 (latest of 1, 5), n4 2: 1 of 2 satisfied, average 3.5.
			CSAT: CSAT{Ratings: 2, Satisfied: 1, Percent: 50, AvgRating: 3.5},
			// o1 ¥100 (n1), o2 ¥1200 (n2): 2 buyers of 7 viewers. Clickers n1, n2.
			Orders: 2, Buyers: 2, GMVFen: 130000, Conversion: 2.0 / 7, Clickers: 2,
		},
		"s-feb": {
			Stream: "s-feb",
			// m2 n1 n5 n6 n7 n8 n9 joined (h1 as host); all but n9 did something (like, click, order,
			// question, NPS).
			Viewers: 7, Participants: 6, ParticipationRate: 6.0 / 7,
			// NPS: n7 9, n8 10 promoters, m2 3 detractor: (2 - 1) / 3.
			NPS: NPS{Responses: 3, Promoters: 2, Detractors: 1, Score: 100.0 / 3},
			// Ratings: m2 5, n7 4: both satisfied, average 4.5.
			CSAT: CSAT{Ratings: 2, Satisfied: 2, Percent: 100, AvgRating: 4.5},
			// o3 ¥50 (n1) and o5 ¥150 - ¥50 refunded (n6); o4 refunded whole. Clickers n1 n5 n6.
			Orders: 2, Buyers: 2, GMVFen: 15000, Conversion: 2.0 / 7, Clickers: 3,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per show\ngot  %+v\nwant %+v", got, want)
	}
	wantOverall := StreamMetrics{
		// 15 + the n-users (n1..n9) = 24 viewers; participants u01 u04 m1 n1 n2 n4 (s-jan), m2 n5 n6 n7 n8 (s-feb).
		Viewers: 24, Participants: 11, ParticipationRate: 11.0 / 24,
		// Promoters u04 n7 n8, passive u01, detractor m2: (3 - 1) / 5.
		NPS: NPS{Responses: 5, Promoters: 3, Passives: 1, Detractors: 1, Score: 40},
		// 5, 2, 5, 4: 3 of 4, average 4.
		CSAT: CSAT{Ratings: 4, Satisfied: 3, Percent: 75, AvgRating: 4},
		// Awarded: 1200 + 100 + 50 + 1200 + 150 + 300 + 1200 + 200 + 1000 (the redelivered 300 once).
		PointsIssued: 5400,
		// Orders not refunded whole: o1 o2 o3 o5 o6 o7 o9; ¥100 + 1200 + 50 + 100 + 1200 + 150 + 1000 = ¥3800;
		// buyers n1 n2 n6 u05 u08 u06, 6 of 24 viewers.
		Orders: 7, Buyers: 6, GMVFen: 380000, Conversion: 0.25,
		Clickers: 4, // n1 n2 n5 n6
	}
	if r.Overall != wantOverall {
		t.Errorf("overall\ngot  %+v\nwant %+v", r.Overall, wantOverall)
	}
	// n1 bought twice (o1, o3): 1 repeat buyer of 6; o4 refunded whole.
	wantP := Purchases{Orders: 7, Refunded: 1, Buyers: 6, RepeatBuyers: 1, RepeatPurchaseRate: 1.0 / 6, GMVFen: 380000}
	if r.Purchases != wantP {
		t.Errorf("purchases %+v, want %+v", r.Purchases, wantP)
	}
	// Viewers 24 → participants 11 → clickers n1 n2 n5 n6 → buyers on a show they watched n1 n2 n6 (n5's
	// order was refunded whole; u05 u06 u08 bought with no stream).
	wantF := Funnel{Rule: FunnelRule, Viewers: 24, Participants: 11, Clickers: 4, Buyers: 3}
	if r.Funnel != wantF {
		t.Errorf("funnel %+v, want %+v", r.Funnel, wantF)
	}
	wantProducts := []Product{
		// cup: clicked by n2 (day 30) and n5 (day 38); ordered in o2 (n2, after the click), o6 (u05, no
		// click); o4 (n5) refunded whole. Clickers who ordered: n2 → 1 of 2.
		{Product: "cup", Clicks: 2, Clickers: 2, Orders: 2, Units: 2, GMVFen: 240000, ClickersOrdered: 1, ClickToOrder: 0.5},
		// tea: clicked by n1 (twice), n2, n6 (after their order); ordered in o1 (2), o3 (1), o5 (3, lines
		// as ordered): 6 units × ¥50. Clickers who ordered after clicking: n1 → 1 of 3.
		{Product: "tea", Clicks: 4, Clickers: 3, Orders: 3, Units: 6, GMVFen: 30000, ClickersOrdered: 1, ClickToOrder: 1.0 / 3},
	}
	if !reflect.DeepEqual(r.Products, wantProducts) {
		t.Errorf("products\ngot  %+v\nwant %+v", r.Products, wantProducts)
	}
}

func TestPlaybookPoints(t *testing.T) {
	r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow)
	want := Points{
		Rule:          PointsRule,
		Issued:        5400, // as TestPlaybookShowsAndSales
		IssuedPending: 5100, // all but u01's 300
		Settled:       3700, // u05 1200, n1 100, n2 1200, u08 200, u06 1000
		Redeemed:      700,  // u01 200, n2 500
		Cancelled:     1250, // o4 1200, o5 50
		Reversed:      50,   // o7
		Expired:       30,   // u01
		// 300 + 3700 - 700 - 50 - 30; per user: u01 70, n2 700, u05 1200, n1 100, u08 150, u06 1000.
		Outstanding: 3220,
		// 5100 - 3700 - 1250: n1's 50 (o3) and n6's 100 (o5 less the refunded tea).
		Pending: 150,
	}
	if r.Points != want {
		t.Errorf("points %+v, want %+v", r.Points, want)
	}
}

func TestPlaybookSegmentsAndWarnings(t *testing.T) {
	a := playbookAggregator(t, playbookEvents(t))
	r := a.Report(playbookNow)
	// R = 41. Spend in days -48..41: n2 ¥1200, u05 ¥1200, u06 ¥1000 (= the threshold) are high value.
	// New (F >= 35): n5..n9, h1. Active (L >= 27): u01 u04 (30) u08 u09 (27: 14 days) m1 m2 m3 n1 n3 n4 (30).
	// At risk (11 <= L <= 26): u07 (18), u10 (26: 15 days), u12 (11: 30 days). Churned (L < 11): u02 u03
	// u11 (10: 31 days).
	want := Segments{Rule: SegmentRule, HighValueFen: DefaultHighValueFen, Users: 25, HighValue: 3, New: 6, Active: 10, AtRisk: 3, Churned: 3}
	if r.Segments != want {
		t.Errorf("segments %+v, want %+v", r.Segments, want)
	}
	seg, _ := a.segmentOf(a.day(playbookNow))
	for user, s := range map[string]string{"u06": SegmentHighValue, "u09": SegmentActive, "u10": SegmentAtRisk, "u12": SegmentAtRisk, "u11": SegmentChurned, "h1": SegmentNew, "m3": SegmentActive} {
		if seg[user] != s {
			t.Errorf("%s is %q, want %q", user, seg[user], s)
		}
	}
	// Warnings: last active 15..30 days before day 41, whatever the segment; the most days first. The week
	// of Wednesday 2026-02-11 is 2026-W07, which starts Monday 2026-02-09 00:00 Beijing.
	weekStart := time.Date(2026, 2, 8, 16, 0, 0, 0, time.UTC)
	wantW := []ChurnWarning{
		{User: "u12", Arm: "b", Segment: SegmentAtRisk, LastActive: "2026-01-12", DaysInactive: 30, Week: "2026-W07", weekStart: weekStart},
		{User: "u07", Arm: "a", Segment: SegmentAtRisk, LastActive: "2026-01-19", DaysInactive: 23, Week: "2026-W07", weekStart: weekStart},
		{User: "u06", Arm: "b", Segment: SegmentHighValue, LastActive: "2026-01-21", DaysInactive: 21, GMV90dFen: 100000, Week: "2026-W07", weekStart: weekStart},
		{User: "u10", Arm: "b", Segment: SegmentAtRisk, LastActive: "2026-01-27", DaysInactive: 15, Week: "2026-W07", weekStart: weekStart},
	}
	if !reflect.DeepEqual(r.ChurnWarnings, wantW) {
		t.Errorf("warnings\ngot  %+v\nwant %+v", r.ChurnWarnings, wantW)
	}

	// A higher threshold (¥1200.01) leaves u06, n2 and u05 to their recency: u06 at risk, n2 (39) and
	// u05 (35) active.
	a.SetHighValueFen(120001)
	r = a.Report(playbookNow)
	want = Segments{Rule: SegmentRule, HighValueFen: 120001, Users: 25, HighValue: 0, New: 6, Active: 12, AtRisk: 4, Churned: 3}
	if r.Segments != want {
		t.Errorf("segments with ¥1200.01: %+v, want %+v", r.Segments, want)
	}
}

func TestPlaybookArms(t *testing.T) {
	r := playbookAggregator(t, playbookEvents(t)).Report(playbookNow)
	// Arm a: u01 u03 u05 u07 u09 u11 m1 m3 n2 n4 n5 n7 n9 (13, all viewers); participants u01 m1 n2 n4 n5 n7;
	// buyer n2 (n5's order refunded whole); d7 eligible (D <= 34) u01 u03 u05 u07 u09 u11 m1 m3 n2 n4, active
	// on D+7 u01 u03 u05 u07 u09.
	// Arm b: u02 u04 u06 u08 u10 u12 m2 n1 n3 n6 n8 (11); participants u04 m2 n1 n6 n8; buyers n1 n6; d7
	// eligible u02 u04 u06 u08 u10 u12 m2 n1 n3, active on D+7 m2. h1 has no variant: in no arm.
	//
	// z = (p_b - p_a) / sqrt(p(1-p)(1/n_a + 1/n_b)), p pooled; p-value = erfc(|z| / sqrt 2):
	//   participation 6/13 = .461538 vs 5/11 = .454545, p = 11/24, se = sqrt(.458333 × .541667 × .167832)
	//     = .204124, z = -.006993 / .204124 = -.034259, p-value .97267
	//   conversion 1/13 = .076923 vs 2/11 = .181818, p = 3/24, se = sqrt(.125 × .875 × .167832) = .135487,
	//     z = .104895 / .135487 = .774210, p-value .43881
	//   retention d7 5/10 = .5 vs 1/9 = .111111, p = 6/19, se = sqrt(.315789 × .684211 × .211111) = .213574,
	//     z = -.388889 / .213574 = -1.820859, p-value .068628
	got := r.Arms
	if got.Rule != ArmsRule || got.Control != "a" || len(got.Arms) != 2 {
		t.Fatalf("arms %+v", got)
	}
	a, b := got.Arms[0], got.Arms[1]
	wantA := Arm{Arm: "a", Users: 13, Participation: Proportion{6, 13, 6.0 / 13}, Conversion: Proportion{1, 13, 1.0 / 13}, RetentionD7: Proportion{5, 10, 0.5}}
	if !reflect.DeepEqual(a, wantA) {
		t.Errorf("arm a %+v, want %+v", a, wantA)
	}
	if b.Arm != "b" || b.Users != 11 || b.Participation != (Proportion{5, 11, 5.0 / 11}) ||
		b.Conversion != (Proportion{2, 11, 2.0 / 11}) || b.RetentionD7 != (Proportion{1, 9, 1.0 / 9}) {
		t.Errorf("arm b %+v", b)
	}
	for _, tt := range []struct {
		name string
		got  *ZTest
		z, p float64
	}{
		{"participation", b.ParticipationTest, -0.034259, 0.97267},
		{"conversion", b.ConversionTest, 0.774210, 0.43881},
		{"retention d7", b.RetentionD7Test, -1.820859, 0.068628},
	} {
		if tt.got == nil || math.Abs(tt.got.Z-tt.z) > 5e-6 || math.Abs(tt.got.P-tt.p) > 5e-5 {
			t.Errorf("%s test %+v, want z %v p %v", tt.name, tt.got, tt.z, tt.p)
		}
	}
}

func TestTwoProportion(t *testing.T) {
	// 30/100 vs 45/100: p = .375, se = sqrt(.375 × .625 × .02) = .068465, z = .15 / .068465 = 2.190890,
	// p-value = erfc(2.190890 / sqrt 2) = .028459.
	got := twoProportion(30, 100, 45, 100)
	if math.Abs(got.Z-2.190890) > 5e-6 || math.Abs(got.P-0.028459) > 5e-6 {
		t.Errorf("got %+v", got)
	}
	for _, tt := range [][4]int{{0, 0, 1, 2}, {3, 3, 5, 5}, {0, 4, 0, 9}} {
		if got := twoProportion(tt[0], tt[1], tt[2], tt[3]); *got != (ZTest{0, 1}) {
			t.Errorf("%v: %+v, want z 0 p 1", tt, got)
		}
	}
}
