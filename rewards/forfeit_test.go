package rewards

import (
	"context"
	"errors"
	"testing"
)

// TestForfeit: the whole spendable balance is taken once, as a redemption entry of ForfeitRewardID, so the
// entries still fold to the balance; a replay changes nothing; a user without points has nothing recorded;
// no catalogue may take the reserved id.
func TestForfeit(t *testing.T) {
	ctx := context.Background()
	l, err := NewLedger(NewMemoryStore(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Award(ctx, Award{Key: "k1", User: "ann", Points: 120, Participation: true}); err != nil {
		t.Fatal(err)
	}
	red, err := l.Forfeit(ctx, "ann", "erasure:ann")
	if err != nil || red.Cost != 120 || red.Balance != 0 || red.RewardID != ForfeitRewardID || red.Replayed {
		t.Fatalf("Forfeit = %+v, %v; want 120 taken, balance 0", red, err)
	}
	again, err := l.Forfeit(ctx, "ann", "erasure:ann")
	if err != nil || !again.Replayed || again.Cost != 120 {
		t.Fatalf("replayed Forfeit = %+v, %v; want the first, replayed", again, err)
	}
	es, err := l.Entries(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	forfeits := 0
	for _, e := range es {
		sum += e.Points
		if e.Kind == EntryRedeem && e.Source == ForfeitRewardID {
			forfeits++
		}
	}
	if forfeits != 1 || sum != 0 || es[len(es)-1].Balance != 0 {
		t.Errorf("entries %+v: %d forfeits, sum %d; want one, 0", es, forfeits, sum)
	}
	none, err := l.Forfeit(ctx, "bob", "erasure:bob")
	if err != nil || none.Cost != 0 {
		t.Errorf("Forfeit of a user without points = %+v, %v; want nothing", none, err)
	}
	if es, _ := l.Entries(ctx, "bob"); len(es) != 0 {
		t.Errorf("bob's entries = %+v, want none", es)
	}
	err = ValidateCatalogue([]Reward{{ID: ForfeitRewardID, Title: "x", Cost: 1}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("a catalogue with the reserved id: %v, want ErrInvalid", err)
	}
}
