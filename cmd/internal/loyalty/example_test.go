package loyalty_test

import (
	"fmt"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/loyalty"
	"github.com/kudos-live/kudos/engagement"
)

// Two viewers join a stream; one of them comments, and its delivery is repeated.
func ExampleAggregator() {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	agg := loyalty.NewAggregator()
	for _, e := range []struct {
		typ, user string
		data      map[string]any
	}{
		{engagement.EventViewerJoined, "ann", map[string]any{"stream": "s1", "role": "viewer"}},
		{engagement.EventViewerJoined, "bob", map[string]any{"stream": "s1", "role": "viewer"}},
		{engagement.EventCommentPosted, "ann", map[string]any{"stream": "s1", "comment_id": "c1", "text": "hi"}},
	} {
		ev, err := engagement.NewEvent("kudos/example", e.typ, "s1", e.user, "", at, e.data)
		if err != nil {
			panic(err)
		}
		agg.Add(ev)
		agg.Add(ev) // at-least-once delivery: the same id again is ignored
	}
	r := agg.Report(time.Time{})
	fmt.Printf("%d events, %d duplicates\n", r.Events, r.Duplicates)
	fmt.Printf("%s: %d of %d viewers took part (%.0f%%)\n",
		r.Streams[0].Stream, r.Overall.Participants, r.Overall.Viewers, 100*r.Overall.ParticipationRate)
	// Output:
	// 3 events, 3 duplicates
	// s1: 1 of 2 viewers took part (50%)
}
