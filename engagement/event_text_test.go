package engagement

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// showTexts are what the people of the show script wrote (showScriptWith).
var showTexts = []string{
	"Is the white pair true to size?",
	"cheap followers at spam.example",
	"I want those SNEAKERS",
	"Do these run wide? I",
}

// TestEventsOmitText: with OmitEventText every event of the show still validates against its schema (the
// version 2 schemas make the text optional), and none carries what anyone wrote; without it, they do.
func TestEventsOmitText(t *testing.T) {
	schemas := eventSchemas(t)
	contains := func(events []Event) map[string]bool {
		t.Helper()
		found := map[string]bool{}
		for _, ev := range events {
			raw, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range showTexts {
				if strings.Contains(string(raw), s) {
					found[s] = true
				}
			}
		}
		return found
	}
	kept := showScriptWith(t, false)
	if found := contains(kept); !found[showTexts[0]] || !found[showTexts[3]] {
		t.Fatalf("without omit the events should carry the comment and the question: found %v", found)
	}

	events := showScriptWith(t, true)
	if len(events) != len(kept) {
		t.Errorf("%d events with omit, %d without: omitting text must not change what is published", len(events), len(kept))
	}
	if found := contains(events); len(found) > 0 {
		t.Errorf("with omit the events still carry %v", slices.Sorted(maps.Keys(found)))
	}
	seen := map[string]int{}
	for i, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if typ, err := validateEventJSON(schemas, raw); err != nil {
			t.Errorf("event %d (%s) with omit does not match its schema: %v\n%s", i, typ, err, raw)
		}
		var data map[string]any
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("event %d (%s): %v", i, ev.Type, err)
		}
		for _, f := range EventTextFields[ev.Type] {
			seen[ev.Type]++
			if _, ok := data[f]; ok {
				t.Errorf("event %d (%s) still has data.%s: %s", i, ev.Type, f, ev.Data)
			}
		}
		if ev.Type == EventCommentPosted && data["length"] == nil {
			t.Errorf("event %d (%s) lost its length: %s", i, ev.Type, ev.Data)
		}
	}
	for _, typ := range []string{EventCommentPosted, EventQuestionAsked} {
		if seen[typ] == 0 {
			t.Errorf("the show emitted no %s event", typ)
		}
	}
}

// TestOmitEventTextNotification: notifications are not part of the show; their title and body go too.
func TestOmitEventTextNotification(t *testing.T) {
	schemas := eventSchemas(t)
	ev, err := NewEvent("kudos/node-1", EventNotificationSent, "spring-sneakers", "u-4821", "", time.Now(), map[string]any{
		"notification_id": "01kkpyv8v027h6p3amkdqg6stt", "kind": "stream_live",
		"title": "Mei is live: Spring sneakers drop", "body": "Li Na, your size 38 is back", "stream": "spring-sneakers",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := OmitEventText(ev)
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validateEventJSON(schemas, raw); err != nil {
		t.Errorf("without its title: %v\n%s", err, raw)
	}
	if strings.Contains(string(raw), "Mei is live") || strings.Contains(string(raw), "Li Na") || !strings.Contains(string(raw), "stream_live") {
		t.Errorf("want the title and the body gone and the rest kept: %s", out.Data)
	}
	if !strings.Contains(string(ev.Data), "Mei is live") {
		t.Error("OmitEventText changed the event it was given")
	}
	like, _ := NewEvent("kudos/node-1", EventLikeSent, "s", "u", "", time.Now(), map[string]any{"stream": "s", "count": 2})
	if got := OmitEventText(like); !reflect.DeepEqual(got, like) {
		t.Errorf("a like changed: %s", got.Data)
	}
}

// TestEventTextFieldsMatchSchemas: EventTextFields lists exactly the fields the schemas mark personal that
// hold text: not ids (a $ref to an id) and not an award's key.
func TestEventTextFieldsMatchSchemas(t *testing.T) {
	_, raw, _ := currentFlatSchemas(t)
	want := map[string][]string{}
	for typ, doc := range raw {
		props, _ := doc["properties"].(map[string]any)
		data, _ := props["data"].(map[string]any)
		fields, _ := data["properties"].(map[string]any)
		required, _ := data["required"].([]any)
		for name, f := range fields {
			m, _ := f.(map[string]any)
			if m["x-personal"] != true || m["$ref"] != nil || name == "key" {
				continue
			}
			want[typ] = append(want[typ], name)
			if slices.Contains(required, any(name)) {
				t.Errorf("%s: data.%s is personal text but required: KUDOS_EVENTS_TEXT=omit could not leave it out", typ, name)
			}
		}
	}
	for typ := range want {
		slices.Sort(want[typ])
	}
	if !reflect.DeepEqual(EventTextFields, want) {
		t.Errorf("EventTextFields = %v, the schemas' personal text fields = %v", EventTextFields, want)
	}
}
