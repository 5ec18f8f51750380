package rewards

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/internal/testenv"
)

// testRefundRecordsDueFacts: a refund, whatever it answers, records what is due of the user as every other
// call does, in both stores alike: here the notice of a lot coming within ExpiringNotice of expiring, with a
// part refunded, a replayed part and a refused part, and no other call touching the user in between.
func testRefundRecordsDueFacts(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	clock := testenv.NewClock(t0) // 2026-03-10 12:00
	l := newTestLedger(t, newStore(t), clock, func(c *Config) { c.MonthlyCap = 100000 })
	mustAward(t, l, Award{Key: "w1", User: "u", Points: 100}) // expires 2027-03-10 12:00
	clock.Set(t0.AddDate(1, 0, -31))                          // 2027-02-07 12:00: not yet within the notice
	mustAward(t, l, Award{Key: "order:1", User: "u", Source: "purchase", Points: 100, Pending: true, Amount: 10000})
	if fs := mustFacts(t, l, "u"); len(fs) != 0 {
		t.Fatalf("facts before the notice: %v", factLines(t, fs, "u"))
	}
	steps := []struct {
		part RefundPart
		want string // the fact the refund records, "" for none
	}{
		{RefundPart{ID: "p1", Amount: 5000}, "2027-02-09 12:00:00 expiring 100 by 2027-03-12 00:00:00 b100"},
		{RefundPart{ID: "p1", Amount: 5000}, ""},  // a replay: nothing new is due
		{RefundPart{ID: "p2", Amount: 99999}, ""}, // refused: more than is left
	}
	at := t0.AddDate(1, 0, -29) // 2027-02-09 12:00: w1 within the notice; order:1 inside its return window
	var lines []string
	for i, st := range steps {
		clock.Set(at.Add(time.Duration(i) * time.Minute))
		res, err := l.RefundPart(ctx, "order:1", st.part, time.Time{})
		if i < 2 && (err != nil || res.Cancelled != 50) {
			t.Fatalf("step %d: %+v %v, want 50 cancelled", i, res, err)
		}
		if i == 2 && err == nil {
			t.Fatalf("step %d: %+v, want a refusal", i, res)
		}
		got := factLines(t, mustFacts(t, l, "u"), "u")
		if st.want != "" {
			lines = append(lines, st.want)
		}
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("facts after refund step %d:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(lines, "\n"))
		}
	}
}
