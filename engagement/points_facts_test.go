package engagement

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// TestLedgerFactsPublishedOnce: a purchase's points settling is published by the sweep RunAwards runs, as
// points.settled with the order, points and balance; when the publication fails the fact stays in the ledger
// and a later sweep publishes it, and a fact published twice (the acknowledgement lost) has the same id.
func TestLedgerFactsPublishedOnce(t *testing.T) {
	ctx := context.Background()
	svc, _, clock := newTestService(t)
	sink := &failingSink{MemorySink: NewMemorySink()}
	svc.sink = sink
	shop := Actor{User: "shop", Role: RoleService}
	if _, _, err := svc.RecordPurchase(ctx, shop, Purchase{OrderID: "o1", UserID: "ann", StreamID: "s1", AmountFen: 12_300}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(8 * 24 * time.Hour)

	sink.setDown(true)
	if n, err := svc.SweepLedger(ctx); err != nil || n != 1 {
		t.Fatalf("sweep with the sink down: %d users, %v; want 1", n, err)
	}
	if got := eventsOfType(sink.Events(), EventPointsSettled); len(got) != 0 {
		t.Fatalf("published with the sink down: %+v", got)
	}
	sink.setDown(false)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.RunAwards(runCtx, nil) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(eventsOfType(sink.Events(), EventPointsSettled)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	settled := eventsOfType(sink.Events(), EventPointsSettled)
	if len(settled) != 1 {
		t.Fatalf("points.settled events %d, want 1 (by RunAwards' sweep)", len(settled))
	}
	ev := settled[0]
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "ann" || ev.Subject != "s1" || data["order_id"] != "o1" || data["points"] != float64(123) || data["balance"] != float64(123) {
		t.Fatalf("points.settled %+v %v", ev, data)
	}
	if fs, err := svc.ledger.Facts(ctx, "ann"); err != nil || len(fs) != 0 {
		t.Fatalf("facts after publication: %+v, %v", fs, err)
	}

	// The same fact built again (a publication whose acknowledgement was lost) is the same event.
	again, err := svc.factEvent(factOf(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != ev.ID || !again.Time.Equal(ev.Time) {
		t.Fatalf("republished fact: id %s at %s, first %s at %s", again.ID, again.Time, ev.ID, ev.Time)
	}
}

// factOf rebuilds the ledger fact behind a points.settled event (the ledger dropped it once published): ann's
// first fact.
func factOf(t *testing.T, ev Event) rewards.Fact {
	t.Helper()
	var data struct {
		Key     string `json:"key"`
		Stream  string `json:"stream"`
		Points  int64  `json:"points"`
		Balance int64  `json:"balance"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	return rewards.Fact{Seq: 1, Kind: rewards.FactSettled, User: ev.UserID, At: ev.Time, Key: data.Key, Stream: data.Stream,
		Points: data.Points, Balance: data.Balance}
}

func eventsOfType(evs []Event, typ string) []Event {
	var out []Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}
