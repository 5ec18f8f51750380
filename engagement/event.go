package engagement

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// EventTypePrefix starts every event type on the wire: "kudos." + noun + "." + verb.
const EventTypePrefix = "kudos."

// Event types of the contract (docs/events.md). Each has a JSON Schema under docs/events/.
const (
	EventStreamStarted      = "kudos.stream.started"
	EventStreamEnded        = "kudos.stream.ended"
	EventViewerJoined       = "kudos.viewer.joined"
	EventViewerLeft         = "kudos.viewer.left"
	EventCommentPosted      = "kudos.comment.posted"
	EventCommentRemoved     = "kudos.comment.removed"
	EventLikeSent           = "kudos.like.sent"
	EventPollOpened         = "kudos.poll.opened"
	EventPollVoted          = "kudos.poll.voted"
	EventPollClosed         = "kudos.poll.closed"
	EventQuizQuestion       = "kudos.quiz.question"
	EventQuizAnswered       = "kudos.quiz.answered"
	EventQuizRevealed       = "kudos.quiz.revealed"
	EventFeedbackGiven      = "kudos.feedback.given"
	EventCouponDropped      = "kudos.coupon.dropped"
	EventCouponClaimed      = "kudos.coupon.claimed"
	EventCouponRedeemed     = "kudos.coupon.redeemed"
	EventDrawEntered        = "kudos.draw.entered"
	EventDrawWon            = "kudos.draw.won"
	EventPurchaseRecorded   = "kudos.purchase.recorded"
	EventPurchaseRefunded   = "kudos.purchase.refunded"
	EventPointsAwarded      = "kudos.points.awarded"
	EventPointsCapped       = "kudos.points.capped"
	EventPointsRedeemed     = "kudos.points.redeemed"
	EventTierChanged        = "kudos.tier.changed"
	EventTierWarning        = "kudos.tier.warning"
	EventQuestionAsked      = "kudos.question.asked"
	EventQuestionUpvoted    = "kudos.question.upvoted"
	EventQuestionAnswered   = "kudos.question.answered"
	EventNotificationSent   = "kudos.notification.sent"
	EventNotificationCapped = "kudos.notification.capped"
	EventProductAdded       = "kudos.product.added"
	EventProductPinned      = "kudos.product.pinned"
	EventProductClicked     = "kudos.product.clicked"
	// EventProductUnpinned: the product being presented stopped being presented (unpinned, or removed).
	EventProductUnpinned = "kudos.product.unpinned"
	// EventProductRemoved: a product left the shelf.
	EventProductRemoved = "kudos.product.removed"
	// EventCatalogueChanged: the shop replaced the points store's catalogue (SetCatalogue).
	EventCatalogueChanged = "kudos.catalogue.changed"
)

// Event types of the ledger's own changes, published from its facts (points_facts.go).
const (
	// EventPointsSettled: a purchase's pending points became spendable (its return window ended).
	EventPointsSettled = "kudos.points.settled"
	// EventPointsExpired: points expired (ExpiryMonths after they were earned).
	EventPointsExpired = "kudos.points.expired"
	// EventPointsExpiring: points will expire within 30 days (the shop's reminder), once per lot.
	EventPointsExpiring = "kudos.points.expiring"
)

// Event types of the points store (points_store.go).
const (
	// EventRedemptionFulfilled: the shop fulfilled a gift redemption (FulfilRedemption).
	EventRedemptionFulfilled = "kudos.redemption.fulfilled"
	// EventRedemptionUsed: the checkout redeemed a points-store coupon's code (RedeemCouponCode).
	EventRedemptionUsed = "kudos.redemption.used"
)

// Event types of personal data (privacy.go).
const (
	// EventUserErased: a user's personal data was erased (EraseUser); downstream consumers delete their
	// copies. It carries the user's id only (the envelope's userid).
	EventUserErased = "kudos.user.erased"
)

// Event types the sample consumer (cmd/kudos-loyalty) publishes to the signals topic, not the server.
const (
	// EventChurnWarning: a user was last active 15 to 30 business days ago; once per user and ISO week.
	EventChurnWarning = "kudos.churn.warning"
)

// Event is one CloudEvents 1.0 event in structured JSON mode, with the Kudos extensions
// userid and variant (the user's A/B arm). Consumers dedupe by ID; the Kafka key is UserID.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data"`
	UserID          string          `json:"userid,omitempty"`
	Variant         string          `json:"variant,omitempty"`
}

// Key is the Kafka message key: the user id, so that one user's events keep their order.
// Events with no user (stream.started) are keyed by their subject.
func (e Event) Key() string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.Subject
}

var (
	entropyMu sync.Mutex
	entropy   = ulid.Monotonic(rand.Reader, 0)
)

// NewEventID returns a ULID: sortable by time, unique across nodes.
func NewEventID(t time.Time) string {
	entropyMu.Lock()
	defer entropyMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), entropy).String()
}

// DerivedEventID returns the ULID of an event that may be published more than once: its time part is at,
// its random part the first 80 bits of SHA-256(name), so the same (at, name) always gives the same id.
func DerivedEventID(at time.Time, name string) string {
	sum := sha256.Sum256([]byte(name))
	return ulid.MustNew(ulid.Timestamp(at), bytes.NewReader(sum[:10])).String()
}

// NewEvent builds an event of type typ about stream subject for user, with data marshalled as JSON.
// source is "kudos/<node>".
func NewEvent(source, typ, subject, user, variant string, at time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              NewEventID(at),
		Source:          source,
		Type:            typ,
		Time:            at.UTC().Truncate(time.Millisecond), // as it is written (eventTimeLayout)
		Subject:         subject,
		DataContentType: "application/json",
		DataSchema:      EventSchemaID(typ), // the $id of its schema, with the version (event_schema.go)
		Data:            raw,
		UserID:          user,
		Variant:         variant,
	}, nil
}

// eventTimeLayout is how an event's time is written: RFC 3339 in UTC, always to the millisecond, so that
// every consumer parses one shape and sorts the strings as the times.
const eventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the event with its time in eventTimeLayout (the rest as the struct tags say).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		Time string `json:"time"`
	}{plain(e), e.Time.UTC().Format(eventTimeLayout)})
}
