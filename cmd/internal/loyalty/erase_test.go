package loyalty

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

func erasedEvent(tb testing.TB, user string, at time.Time) engagement.Event {
	tb.Helper()
	e, err := engagement.NewEvent("kudos/test", engagement.EventUserErased, "", user, "", at, map[string]any{})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// heldIDs lists every user id the Aggregator's state is keyed by or records.
func heldIDs(a *Aggregator) map[string]bool {
	ids := map[string]bool{}
	addKeys := func(m any) {
		for _, k := range reflect.ValueOf(m).MapKeys() {
			ids[k.String()] = true
		}
	}
	addKeys(a.users)
	for _, s := range a.streams {
		for _, m := range []any{s.viewers, s.staff, s.interacted, s.watch, s.nps, s.ratings, s.clicked} {
			addKeys(m)
		}
	}
	for _, p := range a.products {
		addKeys(p.firstClick)
	}
	for _, o := range a.orders {
		ids[o.user] = true
	}
	return ids
}

// TestErasure: the playbook set, then kudos.user.erased for u06 (a high-value buyer with a churn warning)
// and u07 (at risk, with a warning). Every count stays as it was; the rows that name a user lose them; the
// Aggregator holds their ids nowhere; and the result does not depend on where the erasure falls in the
// delivery order.
func TestErasure(t *testing.T) {
	evs := playbookEvents(t)
	before := playbookAggregator(t, evs).Report(playbookNow)
	erased := []string{"u06", "u07"}
	for _, u := range erased {
		if !slices.ContainsFunc(before.ChurnWarnings, func(w ChurnWarning) bool { return w.User == u }) {
			t.Fatalf("the set must warn about %s before the erasure: %+v", u, before.ChurnWarnings)
		}
	}
	if !slices.ContainsFunc(before.ChurnRisk, func(c ChurnRisk) bool { return c.User == "u07" }) {
		t.Fatalf("the set must list u07 at churn risk before the erasure: %+v", before.ChurnRisk)
	}

	erasures := []engagement.Event{erasedEvent(t, "u06", playbookNow), erasedEvent(t, "u07", playbookNow)}
	a := playbookAggregator(t, append(slices.Clone(evs), erasures...))
	after := a.Report(playbookNow)

	want := before
	want.Events += len(erasures)
	notErased := func(user string) bool { return !slices.Contains(erased, user) }
	want.ChurnWarnings = slices.DeleteFunc(slices.Clone(before.ChurnWarnings), func(w ChurnWarning) bool { return !notErased(w.User) })
	want.ChurnRisk = slices.DeleteFunc(slices.Clone(before.ChurnRisk), func(c ChurnRisk) bool { return !notErased(c.User) })
	if len(want.ChurnWarnings) != len(before.ChurnWarnings)-2 {
		t.Fatalf("expected two warnings fewer: %+v", want.ChurnWarnings)
	}
	checkReport(t, after, want)

	held := heldIDs(a)
	for _, u := range erased {
		if held[u] {
			t.Errorf("the aggregator still holds %s", u)
		}
	}
	if !held["u05"] || !held["u12"] {
		t.Errorf("the aggregator lost users that were not erased")
	}
	var anon int
	for id := range held {
		if anonymous(id) {
			anon++
		}
	}
	if anon != 2 {
		t.Errorf("%d anonymous keys, want 2 (one per erased user)", anon)
	}

	// The report, as JSON and as HTML, names them nowhere (it did before).
	for name, r := range map[string]Report{"before": before, "after": after} {
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var h bytes.Buffer
		if err := WriteHTML(&h, r, nil); err != nil {
			t.Fatal(err)
		}
		for _, u := range erased {
			inJSON, inHTML := bytes.Contains(j, []byte(`"`+u+`"`)), strings.Contains(h.String(), ">"+u+"<")
			if name == "before" && !inJSON {
				t.Errorf("the report before the erasure should name %s", u)
			}
			if name == "after" && (inJSON || inHTML) {
				t.Errorf("the report after the erasure names %s (json %v, html %v)", u, inJSON, inHTML)
			}
		}
	}

	// Delivery order: the erasures first, then the set (late events of an erased user are folded
	// anonymously), gives the same report; so does an erasure delivered twice.
	early := playbookAggregator(t, append(slices.Clone(erasures), evs...))
	checkReport(t, early.Report(playbookNow), after)
	if again, err := a.Add(erasures[0]); again || err != nil {
		t.Errorf("a redelivered erasure: %v, %v", again, err)
	}
	u06Again := erasedEvent(t, "u06", playbookNow.Add(time.Minute)) // a second erasure of the same user
	if _, err := a.Add(u06Again); err != nil {
		t.Fatal(err)
	}
	want.Events++
	want.Duplicates++ // the redelivered one
	checkReport(t, a.Report(playbookNow), want)
}

// TestBalanceFoldErasure: the erased user's row leaves Balances, later balance events of theirs are
// dropped, and the other users' rows do not change.
func TestBalanceFoldErasure(t *testing.T) {
	s := synthetic(t)
	f := NewBalanceFold("")
	var evs []engagement.Event
	for _, v := range s.values {
		var e engagement.Event
		if json.Unmarshal(v, &e) == nil {
			evs = append(evs, e)
		}
	}
	for _, e := range evs {
		f.Add(e) // invalid ones change nothing
	}
	before := f.Balances()
	if _, ok := before["u01"]; !ok {
		t.Fatal("u01 has no balance before the erasure")
	}
	if err := f.Add(erasedEvent(t, "u01", synthAt(40, 0, 0))); err != nil {
		t.Fatal(err)
	}
	late, err := engagement.NewEvent("kudos/test", engagement.EventPointsAwarded, "", "u01", "", synthAt(39, 9, 0),
		map[string]any{"key": "late", "source": "watch", "points": 7, "balance": 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add(late); err != nil {
		t.Fatal(err)
	}
	after := f.Balances()
	if _, ok := after["u01"]; ok {
		t.Errorf("u01 still has a row: %+v", after["u01"])
	}
	delete(before, "u01")
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the other rows changed:\ngot  %+v\nwant %+v", after, before)
	}
}
