package eventsink

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kudos-live/kudos/engagement"
)

// TestAppendEventIsMarshalJSON: the spool's fast encoder writes exactly what json.Marshal(e) writes, or
// declines (and Publish uses MarshalJSON). Random events mix plain values with every kind of character
// encoding/json escapes, data with spaces, unicode and HTML characters, and times in other zones.
func TestAppendEventIsMarshalJSON(t *testing.T) {
	// A field added to Event must be added to appendEvent (and here).
	if n := reflect.TypeFor[engagement.Event]().NumField(); n != 11 {
		t.Fatalf("engagement.Event has %d fields; appendEvent writes 11", n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "kudos/n1", "user-42", "stream 7", "ann's", "01JD5Z7Q8X4Y2N3M6K9P0R1S2T"}
	odd := []string{`say "hi"`, `back\slash`, "<b>", "a&b", "tab\there", "line\nbreak", "ünï", "日本", "\u2028", "\x7f", "\xff"}
	datas := []string{"", `{"seq":1}`, `{"stream":"s1","count":3}`, `{"a": 1}`, `{"t":"<b>"}`, `{"t":"a b"}`, `[1,2,{"x":null}]`,
		`{"u":"ü"}`, `{"bad":`, `"str"`, `12`, ` {"lead":1}`, `{"e":"\u00e9"}`}
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("W", -5*3600-1800)}
	pick := func() string {
		if rng.IntN(40) == 0 {
			return odd[rng.IntN(len(odd))]
		}
		return words[rng.IntN(len(words))]
	}
	fast := 0
	for i := range 5000 {
		e := engagement.Event{
			SpecVersion: "1.0", ID: pick(), Source: pick(), Type: pick(), Subject: pick(), DataContentType: "application/json",
			DataSchema: pick(), UserID: pick(), Variant: pick(),
			Time: time.Unix(rng.Int64N(4e9)-1e9, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]),
		}
		if d := datas[rng.IntN(len(datas))]; d != "" {
			e.Data = json.RawMessage(d)
		}
		if i%17 == 0 {
			e.SpecVersion, e.DataContentType = pick(), pick()
		}
		if i%19 == 0 {
			e.Time = time.Time{}
		}
		want, werr := json.Marshal(e)
		prefix := []byte("prefix")
		got, ok := appendEvent(bytes.Clone(prefix), &e)
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("event %d: appendEvent lost what was before: %q", i, got)
		}
		if !ok {
			if !bytes.Equal(got, prefix) {
				t.Fatalf("event %d: appendEvent declined but left %q", i, got)
			}
			continue
		}
		fast++
		if werr != nil {
			t.Fatalf("event %d: appendEvent wrote %s, json.Marshal fails: %v", i, got, werr)
		}
		if !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("event %d:\nappendEvent %s\njson.Marshal %s", i, got[len(prefix):], want)
		}
	}
	// The usual event takes the fast path.
	e, err := engagement.NewEvent("kudos/n1", engagement.EventLikeSent, "s1", "ann", "A", time.Now(), map[string]int{"seq": 1})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e)
	if got, ok := appendEvent(nil, &e); !ok || !bytes.Equal(got, want) {
		t.Fatalf("a like.sent event: %v %s, want %s", ok, got, want)
	}
	if fast < 1000 {
		t.Errorf("only %d of 5000 random events took the fast path; the comparison proves little", fast)
	}
	t.Logf("%d of 5000 random events encoded by appendEvent, the rest declined", fast)
}

// TestAppendTimeIsFormat: the time writer agrees with time.Format on the edges (years 0 and 9999, the
// fraction truncated, not rounded, to milliseconds).
func TestAppendTimeIsFormat(t *testing.T) {
	for _, at := range []time.Time{
		{},
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 3, 1, 20, 0, 0, 123_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(2026, 11, 29, 9, 5, 7, 45_000_000, time.UTC),
	} {
		if got, want := string(appendTime(nil, at)), at.Format(eventTimeLayout); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
}
