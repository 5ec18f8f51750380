package engagement

import "strconv"

// EventSchemaBase is the prefix of every event schema's $id (docs/events/): the envelope is
// EventSchemaBase+"envelope.json", the schema of version N of a type EventSchemaBase+type+".vN.json".
const EventSchemaBase = "https://kudos.dev/schemas/events/"

// eventSchemaVersions is the one place an event type's schema version is set. A version is bumped when its
// schema changes in a way its consumers would notice (docs/events.md, "Versions"); the engagement tests check
// that each schema's $id and dataschema carry this version, and that a schema differs from its committed
// baseline (docs/events/baseline/) only compatibly.
var eventSchemaVersions = map[string]int{
	EventStreamStarted:       1,
	EventStreamEnded:         1,
	EventViewerJoined:        1,
	EventViewerLeft:          1,
	EventCommentPosted:       2, // 2: the text may be absent (KUDOS_EVENTS_TEXT=omit)
	EventCommentRemoved:      1,
	EventLikeSent:            1,
	EventPollOpened:          1,
	EventPollVoted:           1,
	EventPollClosed:          1,
	EventQuizQuestion:        1,
	EventQuizAnswered:        1,
	EventQuizRevealed:        1,
	EventFeedbackGiven:       1,
	EventCouponDropped:       1,
	EventCouponClaimed:       1,
	EventCouponRedeemed:      1,
	EventDrawEntered:         1,
	EventDrawWon:             1,
	EventPurchaseRecorded:    1,
	EventPurchaseRefunded:    1,
	EventPointsAwarded:       1,
	EventPointsCapped:        1,
	EventPointsRedeemed:      1,
	EventTierChanged:         1,
	EventTierWarning:         1,
	EventQuestionAsked:       2, // 2: the text may be absent (KUDOS_EVENTS_TEXT=omit)
	EventQuestionUpvoted:     1,
	EventQuestionAnswered:    1,
	EventNotificationSent:    2, // 2: the text may be absent (KUDOS_EVENTS_TEXT=omit)
	EventNotificationCapped:  1,
	EventProductAdded:        1,
	EventProductPinned:       1,
	EventProductClicked:      1,
	EventProductUnpinned:     1,
	EventProductRemoved:      1,
	EventCatalogueChanged:    1,
	EventRedemptionFulfilled: 1,
	EventRedemptionUsed:      1,
	EventPointsSettled:       1,
	EventPointsExpired:       1,
	EventPointsExpiring:      1,
	EventChurnWarning:        1,
	EventUserErased:          1,
}

// EventSchemaVersion returns the schema version of event type typ, 0 for a type that has none.
func EventSchemaVersion(typ string) int {
	return eventSchemaVersions[typ]
}

// EventSchemaID returns the $id of the current schema of event type typ, which its events carry as their
// dataschema; "" for a type that has none.
func EventSchemaID(typ string) string {
	v := eventSchemaVersions[typ]
	if v == 0 {
		return ""
	}
	return EventSchemaBase + typ + ".v" + strconv.Itoa(v) + ".json"
}
