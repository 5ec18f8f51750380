package engagement

import (
	"context"
	"github.com/kudos-live/kudos/internal/testenv"
	"github.com/kudos-live/kudos/rewards"
	"testing"
	"time"
)

// TestTierWarningOncePerMonth: a silver viewer whose points are about to age out is warned (an event for
// downstream, and the downgrade in their welcome) once a month however often they join.
func TestTierWarningOncePerMonth(t *testing.T) {
	ctx := context.Background()
	clk := testenv.NewClock(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	ledger, err := rewards.NewLedger(rewards.NewMemoryStore(), rewards.Config{Now: clk.Now, MonthlyCap: 100000})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, clk, Config{Ledger: ledger}, fixtureStream{testHost, StreamSpec{ID: "s1", Title: "Show"}})
	s, sink := f.svc, f.sink
	if _, err := ledger.Award(ctx, rewards.Award{Key: "big", User: "ann", Points: 3000, Source: SourcePurchase}); err != nil {
		t.Fatal(err)
	}
	warnings := func() int {
		n := 0
		for _, e := range sink.Events() {
			if e.Type == EventTierWarning {
				n++
			}
		}
		return n
	}
	if _, err := s.Join(ctx, testViewer, "s1"); err != nil || warnings() != 0 {
		t.Fatalf("join in the first month: %v, %d warnings; want none", err, warnings())
	}
	clk.Set(time.Date(2027, 2, 20, 12, 0, 0, 0, time.UTC)) // the points leave the 12-month window on 1 March
	for range 3 {
		w, err := s.Join(ctx, testViewer, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if pv := w.Points.(PointsView); pv.Tier != rewards.TierSilver {
			t.Fatalf("welcome points %+v, want silver", pv)
		}
	}
	if got := warnings(); got != 1 {
		t.Fatalf("%d tier warnings after three joins in the month, want exactly 1", got)
	}
	clk.Set(time.Date(2027, 3, 2, 12, 0, 0, 0, time.UTC))
	if w, err := s.Join(ctx, testViewer, "s1"); err != nil || w.Points.(PointsView).Tier != rewards.TierBronze || warnings() != 1 {
		t.Fatalf("after the drop: %v %+v, %d warnings; want bronze and no new warning", err, w.Points, warnings())
	}
}
