// Package loyalty computes engagement and loyalty metrics from the Kudos event stream (docs/events.md), with
// the shop playbook's definitions (Definitions): day-N retention, participation, conversion, click → order,
// repeat purchases, NPS, CSAT, segments, outstanding points, A/B arms, churn warnings. The Aggregator is pure
// (no I/O, no clock); the Consumer feeds it from a Kafka consumer group; the SignalWriter publishes the churn
// warnings to the signals topic (kudos.churn.warning events); WriteHTML draws the report for a shop manager.
package loyalty

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kudos-live/kudos/engagement"
	"github.com/kudos-live/kudos/rewards"
)

// ErrInvalidEvent marks an event that could not be folded: not a JSON event, no id, no time, or data of
// the wrong shape for its type. Invalid events are counted in Report.Invalid and otherwise ignored.
var ErrInvalidEvent = errors.New("invalid event")

// interactionTypes are what makes a viewer a participant of a stream (Report.Overall.ParticipationRate).
var interactionTypes = map[string]bool{
	engagement.EventCommentPosted:    true,
	engagement.EventPollVoted:        true,
	engagement.EventQuizAnswered:     true,
	engagement.EventFeedbackGiven:    true,
	engagement.EventCouponClaimed:    true,
	engagement.EventDrawEntered:      true,
	engagement.EventLikeSent:         true,
	engagement.EventQuestionAsked:    true,
	engagement.EventQuestionUpvoted:  true,
	engagement.EventProductClicked:   true,
	engagement.EventPurchaseRecorded: true,
}

// activityTypes are the events a user does (as opposed to what the system does to them, like
// points.awarded or tier.changed). A user is active on a business day when one of these happened that day;
// retention and churn count active days.
var activityTypes = map[string]bool{
	engagement.EventViewerJoined:     true,
	engagement.EventViewerLeft:       true,
	engagement.EventCommentPosted:    true,
	engagement.EventLikeSent:         true,
	engagement.EventPollVoted:        true,
	engagement.EventQuizAnswered:     true,
	engagement.EventFeedbackGiven:    true,
	engagement.EventCouponClaimed:    true,
	engagement.EventDrawEntered:      true,
	engagement.EventPurchaseRecorded: true,
	engagement.EventPointsRedeemed:   true,
	engagement.EventQuestionAsked:    true,
	engagement.EventQuestionUpvoted:  true,
	engagement.EventProductClicked:   true,
}

// Tier names of docs/architecture.md ("Scoring"); a user with no tier.changed event is TierBronze.
const (
	TierBronze = "bronze"
	TierSilver = "silver"
	TierGold   = "gold"
)

// roleViewer is the viewer.joined role that counts as an audience member; hosts and staff joining a
// stream are neither viewers nor watch time.
const roleViewer = "viewer"

// Aggregator folds events into metrics. Feed it with Add or AddJSON in any order: every metric is
// order-independent ("latest" means latest event time, ties broken by event id), and an event id seen
// before is counted as a duplicate and ignored, as at-least-once delivery requires. It remembers every
// event id it has seen, so its memory grows with the number of events.
//
// An Aggregator is not safe for concurrent use; one goroutine owns it.
type Aggregator struct {
	loc        *time.Location    // the business time zone: what a day is
	orders     map[string]*order // purchase.recorded by order id (purchase.refunded marks them)
	seen       map[string]struct{}
	events     int
	duplicates int
	invalid    int
	newest     time.Time

	streams map[string]*streamState
	users   map[string]*userState

	products map[string]*productState

	pointsIssued    int64 // every points.awarded, pending or not
	pointsPending   int64 // of them, the pending ones (purchase points in their return window)
	pointsSettled   int64 // points.settled: pending → spendable
	pointsCancelled int64 // purchase.refunded cancelled: pending points taken back
	pointsReversed  int64 // purchase.refunded reversed: spendable points taken back
	pointsRedeemed  int64
	pointsExpired   int64
	pointsCapped    int64

	// highValueFen is the high-value segment's threshold: GMV in the last 90 business days.
	highValueFen int64

	// erased maps the SHA-256 digest of each erased user's id to their anonymous key (erase.go).
	erased map[string]string
}

// productState is what one product's click → order figures are computed from.
type productState struct {
	clicks     int                  // product.clicked events
	firstClick map[string]time.Time // earliest click per user
}

// streamState is what one stream's metrics are computed from.
type streamState struct {
	title        string
	viewers      map[string]struct{} // joined with the viewer role
	staff        map[string]struct{} // joined with another role (host, admin, service)
	interacted   map[string]struct{} // did an interaction on this stream
	watch        map[string]int64    // watch seconds per user, summed over their viewer.left events
	nps          map[string]stamped  // latest nps answer per user
	ratings      map[string]stamped  // latest rating per user
	pointsIssued int64
	clicked      map[string]struct{} // clicked a product of this stream's shelf
}

// userState is what retention, churn and tiers are computed from.
type userState struct {
	activeDays map[int64]struct{} // business days (Aggregator.day) with activity
	tier       stamped            // latest tier.changed; zero when never changed
	arm        stamped            // the variant of the user's earliest event that has one (name)
}

// stamped is a value with the time and id of the event that set it, so that the latest one wins
// whatever the delivery order.
type stamped struct {
	at    time.Time
	id    string
	score int
	name  string
}

// newer reports whether an event at (at, id) replaces s.
func (s stamped) newer(at time.Time, id string) bool {
	if s.id == "" || at.After(s.at) {
		return true
	}
	return at.Equal(s.at) && id > s.id
}

// eventData is the union of the data fields this package reads, by type (docs/events.md).
type eventData struct {
	Stream       string `json:"stream"`
	Role         string `json:"role"`          // viewer.joined
	WatchSeconds int64  `json:"watch_seconds"` // viewer.left
	Kind         string `json:"kind"`          // feedback.given: "rating" or "nps"
	Score        *int   `json:"score"`         // feedback.given
	Points       int64  `json:"points"`        // points.awarded
	Cost         int64  `json:"cost"`          // points.redeemed
	Capped       int64  `json:"capped"`        // points.capped
	To           string `json:"to"`            // tier.changed
	Title        string `json:"title"`         // stream.started
	OrderID      string `json:"order_id"`      // purchase.recorded, purchase.refunded
	AmountFen    int64  `json:"amount_fen"`    // purchase.recorded; purchase.refunded: this refund's fen
	Items        []item `json:"items"`         // purchase.recorded
	ProductID    string `json:"product_id"`    // product.clicked
	Pending      bool   `json:"pending"`       // points.awarded
	Cancelled    int64  `json:"cancelled"`     // purchase.refunded: pending points taken back
	Reversed     int64  `json:"reversed"`      // purchase.refunded: spendable points taken back
	Full         *bool  `json:"full"`          // purchase.refunded: absent (older events) means whole
}

// item is one line of an order.
type item struct {
	ProductID string `json:"product_id"`
	Qty       int64  `json:"qty"`
	PriceFen  int64  `json:"price_fen"`
}

// order is one purchase.recorded, and whether a purchase.refunded followed.
type order struct {
	user        string
	stream      string
	at          time.Time
	amountFen   int64
	items       []item
	refunded    bool  // refunded whole
	refundedFen int64 // partial refunds
}

// net is what the order still brings in: 0 when refunded whole, else its amount less partial refunds.
func (o *order) net() int64 {
	if o.refunded {
		return 0
	}
	return max(o.amountFen-o.refundedFen, 0)
}

// NewAggregator returns an empty Aggregator whose days are the business's: Asia/Shanghai, as the server's
// default KUDOS_TIME_ZONE (NewAggregatorIn for another).
func NewAggregator() *Aggregator { return NewAggregatorIn(rewards.DefaultLocation()) }

// NewAggregatorIn returns an empty Aggregator whose days (activity, retention cohorts, churn) are calendar
// days in loc.
func NewAggregatorIn(loc *time.Location) *Aggregator {
	if loc == nil {
		loc = rewards.DefaultLocation()
	}
	return &Aggregator{
		loc:      loc,
		seen:     make(map[string]struct{}),
		streams:  make(map[string]*streamState),
		users:    make(map[string]*userState),
		orders:   make(map[string]*order),
		products: make(map[string]*productState),

		highValueFen: DefaultHighValueFen,
	}
}

// SetHighValueFen sets the high-value segment's threshold: a user whose orders of the last 90 business days
// (not refunded) add up to at least fen is high-value (default DefaultHighValueFen).
func (a *Aggregator) SetHighValueFen(fen int64) { a.highValueFen = fen }

// AddJSON decodes one CloudEvents JSON value (a Kafka message value) and folds it like Add.
func (a *Aggregator) AddJSON(b []byte) (bool, error) {
	var e engagement.Event
	if err := json.Unmarshal(b, &e); err != nil {
		a.invalid++
		return false, fmt.Errorf("%w: decode: %v", ErrInvalidEvent, err)
	}
	return a.Add(e)
}

// Add folds e into the metrics. It returns false with no error for an event id seen before, and false
// with an error wrapping ErrInvalidEvent for an event it cannot read; both are counted in the report.
// Event types this package does not use still count as events (and as activity when a user does them).
func (a *Aggregator) Add(e engagement.Event) (bool, error) {
	if e.ID == "" {
		a.invalid++
		return false, fmt.Errorf("%w: %s event without id", ErrInvalidEvent, e.Type)
	}
	if _, ok := a.seen[e.ID]; ok {
		a.duplicates++
		return false, nil
	}
	a.seen[e.ID] = struct{}{}
	if e.Time.IsZero() {
		a.invalid++
		return false, fmt.Errorf("%w: %s %s without time", ErrInvalidEvent, e.Type, e.ID)
	}

	var d eventData
	if len(e.Data) > 0 && string(e.Data) != "null" {
		if err := json.Unmarshal(e.Data, &d); err != nil {
			a.invalid++
			return false, fmt.Errorf("%w: %s %s data: %v", ErrInvalidEvent, e.Type, e.ID, err)
		}
	}
	if e.Type == engagement.EventFeedbackGiven {
		if err := checkFeedback(d); err != nil {
			a.invalid++
			return false, fmt.Errorf("%w: %s %s: %v", ErrInvalidEvent, e.Type, e.ID, err)
		}
	}

	a.events++
	if e.Time.After(a.newest) {
		a.newest = e.Time
	}
	a.fold(e, d)
	return true, nil
}

// checkFeedback validates a feedback.given payload: the scores of feedback.send (docs/protocol.md).
func checkFeedback(d eventData) error {
	if d.Score == nil {
		return errors.New("no score")
	}
	switch {
	case d.Kind == "nps" && *d.Score >= 0 && *d.Score <= 10:
	case d.Kind == "rating" && *d.Score >= 1 && *d.Score <= 5:
	default:
		return fmt.Errorf("kind %q score %d out of range", d.Kind, *d.Score)
	}
	return nil
}

// fold applies one new, valid event.
func (a *Aggregator) fold(e engagement.Event, d eventData) {
	streamID := e.Subject
	if streamID == "" {
		streamID = d.Stream
	}
	if e.Type == engagement.EventUserErased {
		a.erase(e.UserID)
		return
	}
	user := a.alias(e.UserID)

	var u *userState
	if user != "" {
		u = a.user(user)
		if activityTypes[e.Type] {
			u.activeDays[a.day(e.Time)] = struct{}{}
		}
		if e.Variant != "" && (u.arm.id == "" || e.Time.Before(u.arm.at) || (e.Time.Equal(u.arm.at) && e.ID < u.arm.id)) {
			u.arm = stamped{at: e.Time, id: e.ID, name: e.Variant}
		}
	}

	switch e.Type {
	case engagement.EventPointsAwarded:
		a.pointsIssued += d.Points
		if d.Pending {
			a.pointsPending += d.Points
		}
		if streamID != "" {
			a.stream(streamID).pointsIssued += d.Points
		}
		return
	case engagement.EventPointsRedeemed:
		a.pointsRedeemed += d.Cost
		return
	case engagement.EventPointsSettled:
		a.pointsSettled += d.Points
		return
	case engagement.EventPointsExpired:
		a.pointsExpired += d.Points
		return
	case engagement.EventPointsCapped:
		a.pointsCapped += d.Capped
		return
	case engagement.EventTierChanged:
		if u != nil && u.tier.newer(e.Time, e.ID) {
			u.tier = stamped{at: e.Time, id: e.ID, name: d.To}
		}
		return
	case engagement.EventPurchaseRecorded:
		if d.OrderID != "" && user != "" {
			o := a.orders[d.OrderID]
			if o == nil {
				o = &order{}
				a.orders[d.OrderID] = o
			}
			// a refund may have come first
			o.user, o.stream, o.at, o.amountFen, o.items = user, streamID, e.Time, d.AmountFen, d.Items
		}
	case engagement.EventPurchaseRefunded:
		if d.OrderID != "" {
			o := a.orders[d.OrderID]
			if o == nil {
				o = &order{}
				a.orders[d.OrderID] = o
			}
			if d.Full == nil || *d.Full {
				o.refunded = true
			} else {
				o.refundedFen += d.AmountFen
			}
		}
		a.pointsCancelled += d.Cancelled
		a.pointsReversed += d.Reversed
		return
	}

	if streamID == "" {
		return
	}
	s := a.stream(streamID)
	switch e.Type {
	case engagement.EventStreamStarted:
		s.title = d.Title
	case engagement.EventViewerJoined:
		if user == "" {
			break
		}
		if d.Role == "" || d.Role == roleViewer {
			s.viewers[user] = struct{}{}
		} else {
			s.staff[user] = struct{}{}
		}
	case engagement.EventViewerLeft:
		if user != "" {
			s.watch[user] += d.WatchSeconds
		}
	case engagement.EventProductClicked:
		if user != "" && d.ProductID != "" {
			s.clicked[user] = struct{}{}
			p := a.products[d.ProductID]
			if p == nil {
				p = &productState{firstClick: make(map[string]time.Time)}
				a.products[d.ProductID] = p
			}
			p.clicks++
			if t, ok := p.firstClick[user]; !ok || e.Time.Before(t) {
				p.firstClick[user] = e.Time
			}
		}
	case engagement.EventFeedbackGiven:
		if user == "" {
			break
		}
		answers := s.ratings
		if d.Kind == "nps" {
			answers = s.nps
		}
		if answers[user].newer(e.Time, e.ID) {
			answers[user] = stamped{at: e.Time, id: e.ID, score: *d.Score}
		}
	}
	if user != "" && interactionTypes[e.Type] {
		s.interacted[user] = struct{}{}
	}
}

func (a *Aggregator) stream(id string) *streamState {
	s, ok := a.streams[id]
	if !ok {
		s = &streamState{
			viewers:    make(map[string]struct{}),
			staff:      make(map[string]struct{}),
			interacted: make(map[string]struct{}),
			watch:      make(map[string]int64),
			nps:        make(map[string]stamped),
			ratings:    make(map[string]stamped),
			clicked:    make(map[string]struct{}),
		}
		a.streams[id] = s
	}
	return s
}

func (a *Aggregator) user(id string) *userState {
	u, ok := a.users[id]
	if !ok {
		u = &userState{activeDays: make(map[int64]struct{})}
		a.users[id] = u
	}
	return u
}

// day is the calendar day of t in the business time zone, counted from 1970-01-01 of that zone.
func (a *Aggregator) day(t time.Time) int64 {
	y, m, d := t.In(a.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dayDate is the date of day d (a business day number), as YYYY-MM-DD.
func dayDate(d int64) string {
	return time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
}
