package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/time/rate"

	"github.com/kudos-live/kudos/rewards"
)

// TestEraseOnEraseKeep: with loyalty.on_erase: keep the erasure leaves the balance in the ledger (no forfeit
// entry, no points.redeemed), and still erases and publishes user.erased.
func TestEraseOnEraseKeep(t *testing.T) {
	w := newPrivacyWorld(t, false)
	rules := DefaultRules()
	rules.Loyalty.OnErase = OnEraseKeep
	w.svc = New(Config{Node: "node-1", Now: w.clock.Now, CommentRate: rate.Inf, Ledger: w.ledger, Rules: &rules}, w.store, w.sink)
	ctx := context.Background()
	ann := Actor{User: "u-ann", Name: privName, Role: RoleViewer}
	bob := Actor{User: "u-bob", Name: "Bob", Role: RoleViewer}
	w.showWithAnn(t, ann, bob)
	before, err := w.ledger.Account(ctx, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	if before.Balance <= 0 {
		t.Fatalf("ann has no balance to keep: %+v", before)
	}
	mark := len(w.sink.Events())
	res, _, err := w.svc.EraseUser(ctx, Actor{User: "ops", Role: RoleAdmin}, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	if res.Forfeited != 0 || len(res.Comments["s1"]) != 1 {
		t.Errorf("erasure %+v, want nothing forfeited and the comment erased", res)
	}
	after, err := w.ledger.Account(ctx, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	if after.Balance != before.Balance {
		t.Errorf("balance %d after the erasure, want %d kept", after.Balance, before.Balance)
	}
	entries, err := w.ledger.Entries(ctx, ann.User)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == rewards.EntryRedeem && e.Source == ForfeitRewardID {
			t.Errorf("a forfeit entry with on_erase keep: %+v", e)
		}
	}
	erased := 0
	for _, ev := range w.sink.Events()[mark:] {
		switch ev.Type {
		case EventPointsRedeemed:
			t.Errorf("points.redeemed published with on_erase keep: %s", ev.Data)
		case EventUserErased:
			erased++
		}
	}
	if erased != 1 {
		t.Errorf("%d user.erased events, want 1", erased)
	}
}

// TestOnEraseRule: the rules file's loyalty.on_erase is forfeit by default, takes keep, and refuses anything
// else naming the field.
func TestOnEraseRule(t *testing.T) {
	if got := DefaultRules().Loyalty.OnErase; got != OnEraseForfeit {
		t.Errorf("default on_erase %q, want %q", got, OnEraseForfeit)
	}
	dir := t.TempDir()
	load := func(v string) (Rules, error) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"loyalty": map[string]any{"on_erase": v}})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "rules.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return LoadRules(path)
	}
	r, err := load(OnEraseKeep)
	if err != nil || r.Loyalty.OnErase != OnEraseKeep {
		t.Fatalf("on_erase keep: %v, %q", err, r.Loyalty.OnErase)
	}
	_, err = load("donate")
	var re *RulesError
	if !errors.As(err, &re) || FieldOf(err) != "loyalty.on_erase" {
		t.Fatalf("on_erase donate: %v, want a problem at loyalty.on_erase", err)
	}
}
