package engagement

import (
	"context"
	"testing"
	"time"
)

// TestPointsAfterErasureForfeited: with the default on_erase (forfeit), points that reach an erased user's
// balance later — an award in flight at the erasure, purchase points settling after it — are forfeited too,
// each once, with its kudos.points.redeemed event; the balance stays 0.
func TestPointsAfterErasureForfeited(t *testing.T) {
	svc, sink, clock := newTestService(t)
	ctx := context.Background()
	shop := Actor{User: "shop", Role: RoleService}
	ann := Actor{User: "ann", Name: "Ann", Role: RoleViewer}
	if _, _, err := svc.RecordPurchase(ctx, shop, Purchase{OrderID: "o-1", UserID: "ann", AmountFen: 10000}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.EraseUser(ctx, Actor{User: "root", Role: RoleAdmin}, "ann"); err != nil {
		t.Fatal(err)
	}
	forfeits := func() int {
		n := 0
		for _, e := range sink.Events() {
			if e.Type == EventPointsRedeemed && e.UserID == "ann" {
				n++
			}
		}
		return n
	}
	before := forfeits()

	// An award that was in flight when the erasure ran.
	svc.award(ctx, ann, "s1", Scored{Key: "watch:s1:ann:7", Source: SourceWatch, Points: 3, Reason: "Watched"})
	if acc, err := svc.Account(ctx, shop, "ann"); err != nil || acc.Balance != 0 {
		t.Fatalf("balance after a late award: %+v %v, want 0", acc, err)
	}
	if got := forfeits(); got != before+1 {
		t.Fatalf("%d forfeit events after the late award, want %d", got, before+1)
	}

	// The purchase's pending points settle after the return window.
	clock.Advance(8 * 24 * time.Hour)
	if _, err := svc.SweepLedger(ctx); err != nil {
		t.Fatal(err)
	}
	if acc, err := svc.Account(ctx, shop, "ann"); err != nil || acc.Balance != 0 || acc.Pending != 0 {
		t.Fatalf("account after the purchase settled: %+v %v, want nothing left", acc, err)
	}
	if got := forfeits(); got != before+2 {
		t.Fatalf("%d forfeit events after the settle, want %d", got, before+2)
	}
	if _, err := svc.SweepLedger(ctx); err != nil { // nothing new: no second forfeit
		t.Fatal(err)
	}
	if got := forfeits(); got != before+2 {
		t.Fatalf("%d forfeit events after another sweep, want %d", got, before+2)
	}
}
