package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestPrivacyExportFindsPurchaseWithoutJoin: an order the shop attributes to a show the buyer never joined
// (bought from a shared link, watched logged out) is in the buyer's export on both stores: recording the
// purchase notes the stream in the buyer's index, as every other act of theirs does.
func TestPrivacyExportFindsPurchaseWithoutJoin(t *testing.T) {
	for _, redisBacked := range []bool{false, true} {
		name := map[bool]string{false: "memory", true: "redis"}[redisBacked]
		t.Run(name, func(t *testing.T) {
			w := newPrivacyWorld(t, redisBacked)
			ctx := context.Background()
			host := Actor{User: "host-mei", Name: "Mei", Role: RoleHost}
			shop := Actor{User: "shop", Role: RoleService}
			if _, err := w.svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Spring sneakers"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := w.svc.RecordPurchase(ctx, shop, Purchase{OrderID: "SO-9", UserID: "u-dan", StreamID: "s1", AmountFen: 59900}); err != nil {
				t.Fatal(err)
			}
			d, err := w.svc.ExportUser(ctx, shop, "u-dan")
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Purchases) != 1 || d.Purchases[0].ID != "SO-9" || d.Purchases[0].Stream != "s1" {
				t.Errorf("export purchases = %+v, want order SO-9 on s1", d.Purchases)
			}
		})
	}
}

// TestPrivacyExportFindsReplayComments: a comment that later comments pushed out of the stream's recent
// history is still in the replay, with its text, for KUDOS_TEXT_RETENTION: the export lists it (with its
// text), the same on both stores, and the erasure removes it.
func TestPrivacyExportFindsReplayComments(t *testing.T) {
	const early = "my early words 4471"
	var exports [2]UserData
	for i, redisBacked := range []bool{false, true} {
		name := map[bool]string{false: "memory", true: "redis"}[redisBacked]
		t.Run(name, func(t *testing.T) {
			w := newPrivacyWorld(t, redisBacked)
			w.svc = New(Config{Node: "node-1", Now: w.clock.Now, CommentRate: rate.Inf, Ledger: w.ledger, RecentComments: 3}, w.store, w.sink)
			ctx := context.Background()
			host := Actor{User: "host-mei", Name: "Mei", Role: RoleHost}
			ann := Actor{User: "u-ann", Name: privName, Role: RoleViewer}
			bob := Actor{User: "u-bob", Name: "Bob", Role: RoleViewer}
			admin := Actor{User: "ops", Role: RoleAdmin}
			if _, err := w.svc.CreateStream(ctx, host, StreamSpec{ID: "s1", Title: "Spring sneakers"}); err != nil {
				t.Fatal(err)
			}
			for _, v := range []Actor{ann, bob} {
				if _, err := w.svc.Join(ctx, v, "s1"); err != nil {
					t.Fatal(err)
				}
			}
			w.clock.Advance(time.Second)
			if _, err := w.svc.PostComment(ctx, ann, "s1", early); err != nil {
				t.Fatal(err)
			}
			for i := range 5 { // more than RecentComments: ann's comment leaves the recent history
				w.clock.Advance(time.Second)
				if _, err := w.svc.PostComment(ctx, bob, "s1", fmt.Sprintf("bob says %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			items, err := w.store.TimelineItems(ctx, "s1", 0, math.MaxInt64, math.MinInt64, -1, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if raw, _ := json.Marshal(items); !strings.Contains(string(raw), early) {
				t.Fatalf("the replay does not hold ann's comment: the test cannot tell")
			}
			d, err := w.svc.ExportUser(ctx, ann, ann.User)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Comments) != 1 || d.Comments[0].Text != early || d.Comments[0].Stream != "s1" {
				t.Errorf("export comments = %+v, want the one in the replay, with its text", d.Comments)
			}
			exports[i] = d
			if _, _, err := w.svc.EraseUser(ctx, admin, ann.User); err != nil {
				t.Fatal(err)
			}
			if where := w.find(t, early); len(where) > 0 {
				t.Errorf("%q is still kept after the erasure: %v", early, where)
			}
		})
	}
	var shapes [2]string
	for i, d := range exports {
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		blankIDs(v)
		out, _ := json.Marshal(v)
		shapes[i] = string(out)
	}
	if shapes[0] != shapes[1] {
		t.Errorf("the exports differ:\nmemory %s\nredis  %s", shapes[0], shapes[1])
	}
}
