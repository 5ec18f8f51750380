package engagement

import (
	"encoding/json"
	"maps"
)

// EventTextFields are the data fields of each event type that hold personal free text — what a viewer
// wrote, a title that may name someone — among the fields the schemas mark "x-personal" (docs/events.md,
// "Personal fields"; a test checks the two agree). The ids the schemas also mark (userid, by, host, an
// award's key) are not text: they stay, as a consumer needs them to join and to dedupe.
var EventTextFields = map[string][]string{
	EventCommentPosted:    {"text"},
	EventQuestionAsked:    {"text"},
	EventNotificationSent: {"body", "title"},
}

// OmitEventText returns ev without the personal text fields of its type (EventTextFields): what the
// server publishes with KUDOS_EVENTS_TEXT=omit (Config.OmitEventText). The schemas of those types make the
// fields optional from version 2 on, so the event still names its schema truthfully. Events of other types,
// and data that is not a JSON object, are returned as they are.
func OmitEventText(ev Event) Event {
	fields := EventTextFields[ev.Type]
	if len(fields) == 0 || len(ev.Data) == 0 {
		return ev
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &data) != nil {
		return ev
	}
	kept := maps.Clone(data)
	for _, f := range fields {
		delete(kept, f)
	}
	if len(kept) == len(data) {
		return ev
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		return ev
	}
	ev.Data = raw
	return ev
}
