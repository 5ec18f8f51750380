package loyalty

import (
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// event builds one event at at, or fails the test.
func event(t *testing.T, typ, stream, user string, at time.Time, data map[string]any) engagement.Event {
	t.Helper()
	e, err := engagement.NewEvent("kudos/test", typ, stream, user, "", at, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestDaysAreBeijingDays: a viewer active at 23:30 and again at 00:30 Beijing time was active on two days
// (d1 retained), though both instants fall on one UTC day; in UTC the same events make one day.
func TestDaysAreBeijingDays(t *testing.T) {
	beijing := time.FixedZone("CST", 8*3600)
	first := time.Date(2026, 3, 31, 23, 30, 0, 0, beijing) // 15:30 UTC
	next := time.Date(2026, 4, 1, 0, 30, 0, 0, beijing)    // 16:30 UTC, the same UTC day
	events := []engagement.Event{
		event(t, engagement.EventViewerJoined, "s1", "ann", first, map[string]any{"stream": "s1", "role": "viewer"}),
		event(t, engagement.EventViewerJoined, "s1", "ann", next, map[string]any{"stream": "s1", "role": "viewer"}),
	}
	report := next.Add(time.Hour)
	tests := []struct {
		name   string
		agg    *Aggregator
		wantD1 Cohort
	}{
		{"default, Asia/Shanghai", NewAggregator(), Cohort{Users: 1, Retained: 1, Rate: 1}},
		{"UTC", NewAggregatorIn(time.UTC), Cohort{}}, // day D is the report day: no cohort closed yet
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range events {
				if _, err := tt.agg.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			if got := tt.agg.Report(report).Retention.D1; got != tt.wantD1 {
				t.Errorf("d1 = %+v, want %+v", got, tt.wantD1)
			}
		})
	}
}

// TestSalesAndRepeatPurchases works the playbook's sales figures out by hand on a small set: stream s1 has
// 4 viewers (ann, bob, cat, dan); ann buys twice on s1 (100 + 50 yuan), bob once on s1 (30 yuan, then
// refunded) and once with no stream (20 yuan), eve (never a viewer) once on s2 (10 yuan).
func TestSalesAndRepeatPurchases(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	a := NewAggregatorIn(time.UTC)
	add := func(e engagement.Event) {
		t.Helper()
		if _, err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"ann", "bob", "cat", "dan"} {
		add(event(t, engagement.EventViewerJoined, "s1", u, at, map[string]any{"stream": "s1", "role": "viewer"}))
	}
	buy := func(order, stream, user string, fen int64) {
		t.Helper()
		add(event(t, engagement.EventPurchaseRecorded, stream, user, at, map[string]any{"order_id": order, "stream": stream, "amount_fen": fen, "points": fen / 100}))
	}
	buy("o1", "s1", "ann", 10000)
	buy("o2", "s1", "ann", 5000)
	buy("o3", "s1", "bob", 3000)
	buy("o4", "", "bob", 2000)
	buy("o5", "s2", "eve", 1000)
	add(event(t, engagement.EventPurchaseRefunded, "", "bob", at, map[string]any{"order_id": "o3", "cancelled": 30, "reversed": 0, "shortfall": 0, "balance": 0}))
	r := a.Report(at.Add(time.Hour))

	// Orders not refunded: o1, o2, o4, o5 = 4 for 100 + 50 + 20 + 10 = 180 yuan; buyers ann, bob, eve; ann bought twice.
	wantP := Purchases{Orders: 4, Refunded: 1, Buyers: 3, RepeatBuyers: 1, RepeatPurchaseRate: 1.0 / 3, GMVFen: 18000}
	if r.Purchases != wantP {
		t.Errorf("purchases = %+v, want %+v", r.Purchases, wantP)
	}
	got := map[string]StreamMetrics{}
	for _, s := range r.Streams {
		got[s.Stream] = s
	}
	// s1: o1, o2 (o3 refunded) by ann: 1 buyer of 4 viewers.
	if s := got["s1"]; s.Orders != 2 || s.Buyers != 1 || s.GMVFen != 15000 || s.Conversion != 0.25 {
		t.Errorf("s1 sales = %d orders, %d buyers, %d fen, conversion %v; want 2, 1, 15000, 0.25", s.Orders, s.Buyers, s.GMVFen, s.Conversion)
	}
	// Overall: 3 buyers of 4 viewers (eve bought without watching: the ratio is the playbook's buyers ÷ viewers).
	if o := r.Overall; o.Orders != 4 || o.Buyers != 3 || o.GMVFen != 18000 || o.Conversion != 0.75 {
		t.Errorf("overall sales = %d orders, %d buyers, %d fen, conversion %v; want 4, 3, 18000, 0.75", o.Orders, o.Buyers, o.GMVFen, o.Conversion)
	}
}
