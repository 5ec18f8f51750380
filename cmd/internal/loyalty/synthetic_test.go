package loyalty

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// The synthetic set: 40 days (day 0 = 2024-03-01 UTC, report day 39) of two streams.
//
//   - s2-daily, an always-on channel: users u01..u12 join it (role viewer) on their active days
//     (activeDays below), which drive retention and churn; u01 and u02 like it and give NPS 10 and 2 on
//     day 0; points are awarded on it.
//   - s1-sale, one show on day 39 10:00-11:00 hosted by h1: viewers v01..v10 interact, answer NPS and
//     ratings, watch; x01 comments without having joined. All of it on day 39, so these users are in no
//     retention cohort and at no churn risk.
//
// Every expected number in wantSynthetic is worked out by hand in the comments there.
var synthBase = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// activeDays are the days each u-user joins s2-daily.
var activeDays = map[string][]int{
	"u01": span(0, 39),
	"u02": {0, 1},
	"u03": {0, 5},
	"u04": {0, 20},
	"u05": {0, 35},
	"u06": span(10, 38),
	"u07": append([]int{10, 12}, span(13, 32)...),
	"u08": append(span(20, 32), 36),
	"u09": {33, 39},
	"u10": {39},
	"u11": append(span(8, 23), 34, 36),
	"u12": append(span(8, 23), 34),
}

func span(from, to int) []int {
	var s []int
	for d := from; d <= to; d++ {
		s = append(s, d)
	}
	return s
}

// synthAt is day d of the synthetic set at hh:mm UTC.
func synthAt(d, hh, mm int) time.Time {
	return synthBase.Add(time.Duration(d)*24*time.Hour + time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

// synthSet builds events, in delivery order, as Kafka message values.
type synthSet struct {
	tb     testing.TB
	values [][]byte // every message, in delivery order
	keys   [][]byte
	valid  map[string]bool // ids of valid events
}

func (s *synthSet) event(typ, stream, user string, at time.Time, data any) engagement.Event {
	s.tb.Helper()
	e, err := engagement.NewEvent("kudos/test", typ, stream, user, "A", at, data)
	if err != nil {
		s.tb.Fatal(err)
	}
	return e
}

// send appends e; valid says whether the aggregator must accept it.
func (s *synthSet) send(e engagement.Event, valid bool) engagement.Event {
	s.tb.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.values = append(s.values, b)
	s.keys = append(s.keys, []byte(e.Key()))
	if valid {
		s.valid[e.ID] = true
	}
	return e
}

func (s *synthSet) add(typ, stream, user string, at time.Time, data any) engagement.Event {
	s.tb.Helper()
	return s.send(s.event(typ, stream, user, at, data), true)
}

// synthetic returns the synthetic set: its messages and the number of distinct valid events in it.
func synthetic(tb testing.TB) *synthSet {
	tb.Helper()
	s := &synthSet{tb: tb, valid: make(map[string]bool)}
	const daily, sale = "s2-daily", "s1-sale"
	type m = map[string]any

	// Daily activity on s2-daily.
	for i := 1; i <= 12; i++ {
		u := fmt.Sprintf("u%02d", i)
		for _, d := range activeDays[u] {
			s.add(engagement.EventViewerJoined, daily, u, synthAt(d, 9, i), m{"stream": daily, "role": "viewer"})
		}
	}
	s.add(engagement.EventLikeSent, daily, "u01", synthAt(0, 10, 0), m{"stream": daily, "count": 3})
	s.add(engagement.EventLikeSent, daily, "u02", synthAt(0, 10, 1), m{"stream": daily, "count": 1})
	s.add(engagement.EventFeedbackGiven, daily, "u01", synthAt(0, 10, 2), m{"stream": daily, "kind": "nps", "score": 10})
	s.add(engagement.EventFeedbackGiven, daily, "u02", synthAt(0, 10, 3), m{"stream": daily, "kind": "nps", "score": 2})

	// Points: 100 + 200 on s2-daily, 500 for a purchase (no stream), 95 on s1-sale below.
	s.add(engagement.EventPointsAwarded, daily, "u01", synthAt(0, 11, 0), m{"key": "w-u01", "source": "watch", "points": 100, "balance": 100, "stream": daily})
	awardU06 := s.add(engagement.EventPointsAwarded, daily, "u06", synthAt(10, 11, 0), m{"key": "w-u06", "source": "watch", "points": 200, "balance": 200, "stream": daily})
	s.add(engagement.EventPurchaseRecorded, "", "u01", synthAt(39, 8, 0), m{"order_id": "o1", "stream": "", "amount_fen": 50000, "points": 500})
	s.add(engagement.EventPointsAwarded, "", "u01", synthAt(39, 8, 0), m{"key": "p-o1", "source": "purchase", "points": 500, "balance": 600})
	s.add(engagement.EventPointsCapped, "", "u01", synthAt(39, 8, 1), m{"key": "p-o1", "source": "purchase", "capped": 20})
	redeemU01 := s.add(engagement.EventPointsRedeemed, "", "u01", synthAt(39, 8, 2), m{"reward_id": "r1", "request_id": "q1", "cost": 300, "balance": 300})

	// Tiers: u01 ends gold, u06 silver, u07 back to bronze, u08 gold (its older silver arrives last).
	tier := func(u string, d int, from, to string) {
		s.add(engagement.EventTierChanged, "", u, synthAt(d, 12, 0), m{"from": from, "to": to})
	}
	tier("u01", 5, TierBronze, TierSilver)
	tier("u01", 30, TierSilver, TierGold)
	tier("u06", 20, TierBronze, TierSilver)
	tier("u07", 15, TierBronze, TierSilver)
	tier("u07", 38, TierSilver, TierBronze)
	tier("u08", 30, TierSilver, TierGold)
	tier("u08", 25, TierBronze, TierSilver)

	// The s1-sale show on day 39.
	s.add(engagement.EventStreamStarted, sale, "", synthAt(39, 10, 0), m{"stream": sale, "title": "Spring sale", "host": "h1"})
	s.add(engagement.EventViewerJoined, sale, "h1", synthAt(39, 10, 0), m{"stream": sale, "role": "host"})
	var joinV01 engagement.Event
	for i := 1; i <= 10; i++ {
		e := s.add(engagement.EventViewerJoined, sale, fmt.Sprintf("v%02d", i), synthAt(39, 10, 1), m{"stream": sale, "role": "viewer"})
		if i == 1 {
			joinV01 = e
		}
	}
	s.add(engagement.EventCommentPosted, sale, "v01", synthAt(39, 10, 5), m{"comment_id": "c1", "stream": sale, "length": 2, "text": "hi"})
	s.add(engagement.EventLikeSent, sale, "v02", synthAt(39, 10, 6), m{"stream": sale, "count": 5})
	s.add(engagement.EventPollVoted, sale, "v03", synthAt(39, 10, 7), m{"stream": sale, "poll_id": "p1", "option": 0})
	s.add(engagement.EventQuizAnswered, sale, "v04", synthAt(39, 10, 8), m{"stream": sale, "quiz_id": "q1", "question_id": "q1-1", "choice": 2, "correct": true, "points": 80})
	s.add(engagement.EventCouponClaimed, sale, "v05", synthAt(39, 10, 9), m{"stream": sale, "coupon_id": "k1"})
	s.add(engagement.EventDrawEntered, sale, "v06", synthAt(39, 10, 10), m{"stream": sale, "draw_id": "d1"})
	s.add(engagement.EventLikeSent, sale, "v09", synthAt(39, 10, 11), m{"stream": sale, "count": 1})
	s.add(engagement.EventCommentPosted, sale, "x01", synthAt(39, 10, 20), m{"comment_id": "c2", "stream": sale, "length": 2, "text": "yo"})

	nps := func(u string, mm, score int) {
		s.add(engagement.EventFeedbackGiven, sale, u, synthAt(39, 10, mm), m{"stream": sale, "kind": "nps", "score": score})
	}
	nps("v01", 30, 10)
	nps("v02", 30, 9)
	nps("v03", 30, 3)
	nps("v03", 40, 9) // latest: promoter
	nps("v04", 30, 8)
	nps("v05", 30, 7)
	nps("v06", 30, 6)
	nps("v07", 30, 10)
	nps("v08", 40, 5) // latest (delivered first): detractor
	nps("v08", 30, 10)
	rating := func(u string, mm, score int) {
		s.add(engagement.EventFeedbackGiven, sale, u, synthAt(39, 10, mm), m{"stream": sale, "kind": "rating", "score": score})
	}
	rating("v01", 31, 5)
	rating("v02", 31, 4)
	rating("v03", 31, 3)
	rating("v04", 31, 2)
	rating("v04", 41, 5) // latest
	rating("v05", 31, 1)

	left := func(u string, mm, secs int) engagement.Event {
		return s.add(engagement.EventViewerLeft, sale, u, synthAt(39, 10, mm), m{"stream": sale, "watch_seconds": secs})
	}
	left("v01", 45, 600)
	leftV02 := left("v02", 45, 1200)
	left("v03", 20, 300)
	left("v03", 46, 300)
	left("v04", 45, 900)
	left("h1", 59, 3600) // a host: not watch time

	for u, p := range map[string]int{"v01": 5, "v03": 5, "v04": 80, "v05": 5} {
		s.add(engagement.EventPointsAwarded, sale, u, synthAt(39, 10, 50), m{"key": "s1-" + u, "source": "poll", "points": p, "balance": p, "stream": sale})
	}
	s.add(engagement.EventPointsRedeemed, "", "v04", synthAt(39, 10, 50), m{"reward_id": "r2", "request_id": "q2", "cost": 50, "balance": 30})
	s.add(engagement.EventStreamEnded, sale, "", synthAt(39, 11, 0), m{"stream": sale, "duration_s": 3600})

	// At-least-once: redeliveries that would change the numbers if counted twice.
	s.send(joinV01, false)
	s.send(leftV02, false)
	s.send(awardU06, false)
	s.send(redeemU01, false)

	// Invalid: a score of the wrong type, an NPS out of range, an event without id, not JSON at all.
	s.send(s.event(engagement.EventFeedbackGiven, sale, "v10", synthAt(39, 10, 30), m{"stream": sale, "kind": "nps", "score": "ten"}), false)
	s.send(s.event(engagement.EventFeedbackGiven, sale, "v10", synthAt(39, 10, 30), m{"stream": sale, "kind": "nps", "score": 11}), false)
	noID := s.event(engagement.EventLikeSent, sale, "v10", synthAt(39, 10, 30), m{"stream": sale, "count": 1})
	noID.ID = ""
	s.send(noID, false)
	s.values = append(s.values, []byte("not json"))
	s.keys = append(s.keys, []byte("v10"))
	return s
}

// wantSynthetic is the report of the synthetic set, worked out by hand.
func wantSynthetic(events int) Report {
	daily := StreamMetrics{
		Stream: "s2-daily",
		// u01..u12 joined; u01 and u02 liked and answered NPS.
		Viewers: 12, Participants: 2, ParticipationRate: 2.0 / 12,
		// 10 promoter, 2 detractor: (1 - 1) / 2.
		NPS:          NPS{Responses: 2, Promoters: 1, Detractors: 1, Score: 0},
		PointsIssued: 300, // 100 + 200 (the redelivered 200 not again)
	}
	sale := StreamMetrics{
		Stream: "s1-sale", Title: "Spring sale",
		// v01..v10 joined (h1 as host, x01 never); v01..v08 interacted or answered, v09 liked, v10 nothing.
		Viewers: 10, Participants: 9, ParticipationRate: 0.9,
		// v01 600, v02 1200 (redelivered once), v03 300+300, v04 900; h1 is the host.
		WatchViewers: 4, AvgWatchSeconds: 3300.0 / 4,
		// latest per user: 10, 9, 9 (v03 changed from 3), 8, 7, 6, 10, 5 (v08 changed from 10).
		NPS: NPS{Responses: 8, Promoters: 4, Passives: 2, Detractors: 2, Score: 25},
		// latest per user: 5, 4, 3, 5 (v04 changed from 2), 1.
		CSAT:         CSAT{Ratings: 5, Satisfied: 3, Percent: 60, AvgRating: 3.6},
		PointsIssued: 95,
	}
	return Report{
		Now:        synthAt(39, 11, 0), // stream.ended, the newest event
		Events:     events,
		Duplicates: 4,
		Invalid:    4,
		Overall: StreamMetrics{
			// 12 + 10 viewers; 2 + 9 participants.
			Viewers: 22, Participants: 11, ParticipationRate: 0.5,
			WatchViewers: 4, AvgWatchSeconds: 825,
			// 4+1 promoters, 2 passives, 2+1 detractors of 10: (5 - 3) / 10.
			NPS:          NPS{Responses: 10, Promoters: 5, Passives: 2, Detractors: 3, Score: 20},
			CSAT:         CSAT{Ratings: 5, Satisfied: 3, Percent: 60, AvgRating: 3.6},
			PointsIssued: 895, // 300 + 95 + 500
			// One order (u01's o1, 500 yuan, no stream): 1 buyer of 22 viewers.
			Orders: 1, Buyers: 1, GMVFen: 50000, Conversion: 1.0 / 22,
		},
		Purchases: Purchases{Orders: 1, Buyers: 1, GMVFen: 50000},
		Streams:   []StreamMetrics{sale, daily},
		Retention: Retention{
			Rule: RetentionRule,
			// Cohorts by first day: 0 = u01..u05, 8 = u11 u12, 10 = u06 u07, 20 = u08, 33 = u09,
			// 39 = u10, v01..v10, h1, x01 (13).
			// D1 (D <= 38): 11 users; active on D+1: u01 u02 (day 1), u11 u12 (9), u06 (11), u08 (21).
			D1: Cohort{Users: 11, Retained: 6, Rate: 6.0 / 11},
			// D7 (D <= 32): 10 users; active on D+7: u01 (7), u11 u12 (15), u06 u07 (17), u08 (27).
			D7: Cohort{Users: 10, Retained: 6, Rate: 0.6},
			// D30 (D <= 9): u01..u05, u11, u12; active on D+30: u01 (30) only (u11, u12: day 38 no).
			D30: Cohort{Users: 7, Retained: 1, Rate: 1.0 / 7},
			Cohorts: []CohortDay{
				{Day: "2024-03-01", Users: 5, D1: &Cohort{5, 2, 0.4}, D7: &Cohort{5, 1, 0.2}, D30: &Cohort{5, 1, 0.2}},
				{Day: "2024-03-09", Users: 2, D1: &Cohort{2, 2, 1}, D7: &Cohort{2, 2, 1}, D30: &Cohort{2, 0, 0}},
				{Day: "2024-03-11", Users: 2, D1: &Cohort{2, 1, 0.5}, D7: &Cohort{2, 2, 1}}, // 10+30 > 39
				{Day: "2024-03-21", Users: 1, D1: &Cohort{1, 1, 1}, D7: &Cohort{1, 1, 1}},
				{Day: "2024-04-03", Users: 1, D1: &Cohort{1, 0, 0}},
				{Day: "2024-04-09", Users: 13},
			},
		},
		// 100 + 200 + 500 + 95 issued, none pending; 300 + 50 redeemed.
		Points: Points{Rule: PointsRule, Issued: 895, Redeemed: 350, Outstanding: 545, Capped: 20},
		// 24 users: u01..u12, v01..v10, h1, x01. Gold: u01, u08. Silver: u06. u07 went back to bronze.
		Tiers:     map[string]int{TierBronze: 21, TierSilver: 1, TierGold: 2},
		ChurnRule: ChurnRule,
		// Report day R = 39: last 7 = 33..39, previous 4 weeks = 5..32, last 14 = 26..39.
		ChurnRisk: []ChurnRisk{
			// 22 active days in 5..32 (weekly 5.5), none since.
			{User: "u07", Reason: ReasonDrop, Risk: 1, LastActive: "2024-04-02", WeeklyAvgPrev4Weeks: 5.5},
			// gone for 14+ days; day 5 and day 20 fall in the previous 4 weeks, day 1 does not.
			{User: "u03", Reason: ReasonInactive, Risk: 1, LastActive: "2024-03-06", WeeklyAvgPrev4Weeks: 0.25},
			{User: "u04", Reason: ReasonInactive, Risk: 1, LastActive: "2024-03-21", WeeklyAvgPrev4Weeks: 0.25},
			{User: "u02", Reason: ReasonInactive, Risk: 1, LastActive: "2024-03-02", WeeklyAvgPrev4Weeks: 0},
			// 16 days in 8..23 (weekly 4), 1 in the last 7: 1 - 1/4.
			{User: "u12", Reason: ReasonDrop, Risk: 0.75, LastActive: "2024-04-04", ActiveDaysLast7: 1, WeeklyAvgPrev4Weeks: 4},
			// 13 days in 20..32 (weekly 3.25), 1 in the last 7: 1 - 1/3.25.
			{User: "u08", Reason: ReasonDrop, Risk: 9.0 / 13, LastActive: "2024-04-06", ActiveDaysLast7: 1, WeeklyAvgPrev4Weeks: 3.25},
			// Not at risk: u11 (16 days, 2 in the last 7: exactly half), u06 (23 days, 6 in the last 7),
			// u05 (day 35 only recently), u01, u09, u10.
		},
	}
}
