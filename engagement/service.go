// Package engagement is what viewers and hosts do on a live stream: comments and moderation, likes, polls,
// quizzes, feedback, coupon drops, lucky draws and product Q&A; the scorer that turns interactions into
// loyalty points; and the event contract (CloudEvents) with the Sink that carries it downstream.
//
// It knows no sockets: every action returns an Outcome (frames to broadcast, frames for single users) that
// package stream delivers. Shared state lives behind Store (memory or Redis).
package engagement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kudos-live/kudos/rewards"
	"golang.org/x/time/rate"
)

// Frame is one server→client envelope before encoding: {"type": Type, "data": Data}.
type Frame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// Direct is a frame for one user's sockets only (their points, a notification).
type Direct struct {
	User  string
	Frame Frame
}

// Outcome is what an accepted action produced for the room. Package stream delivers it on every node.
type Outcome struct {
	Stream string
	// Broadcast goes to every socket of the stream.
	Broadcast []Frame
	// Hosts goes to the host and admin sockets of the stream only.
	Hosts []Frame
	// Direct goes to particular users.
	Direct []Direct
	// Delay holds Broadcast back so that it appears with the (delayed) video; see Stream.VideoDelayMS.
	Delay time.Duration
	// Reply holds extra fields for the ack of the frame that caused the outcome.
	Reply map[string]any
	// Sampled marks Broadcast as chat that a flooded stream may thin out per viewer (a person can read
	// ~20 comments a second, not 2,000); From, its author, always receives it.
	Sampled bool
	From    string
}

// Empty reports whether there is nothing to deliver.
func (o Outcome) Empty() bool {
	return len(o.Broadcast) == 0 && len(o.Hosts) == 0 && len(o.Direct) == 0
}

// Merge appends other's frames to o (same stream).
func (o *Outcome) Merge(other Outcome) {
	o.Broadcast = append(o.Broadcast, other.Broadcast...)
	o.Hosts = append(o.Hosts, other.Hosts...)
	o.Direct = append(o.Direct, other.Direct...)
	for k, v := range other.Reply {
		if o.Reply == nil {
			o.Reply = map[string]any{}
		}
		o.Reply[k] = v
	}
}

// Config configures a Service. The zero value works: every field has a documented default.
type Config struct {
	// Node names this server in event sources ("kudos/<node>"). Default "local".
	Node string
	// RecentComments is how many comments a late joiner receives. Default 50.
	RecentComments int
	// CommentRate and CommentBurst limit each user's comments per stream on this node. Default 1/s, burst 5.
	CommentRate  rate.Limit
	CommentBurst int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Rules are the scoring rules. Default DefaultRules().
	Rules *Rules
	// Ledger pays points. Default: a ledger over a memory store with default settings.
	Ledger *rewards.Ledger
	// Notify decides who gets notifications (daily cap, quiet hours). Zero value: the documented defaults.
	Notify NotifyConfig
	// Awards holds every award until it is paid and its events are durable (see award.go). Default: a
	// MemoryAwardQueue, which a restart empties; a server with a shared ledger gives a FileAwardQueue.
	Awards AwardQueue
	// OmitEventText publishes events without their personal text (OmitEventText, KUDOS_EVENTS_TEXT=omit).
	OmitEventText bool
}

func (c *Config) applyDefaults() {
	if c.Node == "" {
		c.Node = "local"
	}
	if c.RecentComments <= 0 {
		c.RecentComments = 50
	}
	if c.CommentRate <= 0 {
		c.CommentRate = 1
	}
	if c.CommentBurst <= 0 {
		c.CommentBurst = 5
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rules == nil {
		r := DefaultRules()
		c.Rules = &r
	}
	if c.Awards == nil {
		c.Awards = NewMemoryAwardQueue()
	}
	if c.Ledger == nil {
		lc := c.Rules.Loyalty.LedgerConfig() // the rules' economics; a Rules without them has the defaults
		lc.Now, lc.Location = c.Now, c.Notify.Location
		l, err := rewards.NewLedger(rewards.NewMemoryStore(), lc)
		if err != nil {
			panic("engagement: default ledger: " + err.Error()) // validated rules (LoadRules, Validate) make a valid one
		}
		c.Ledger = l
	}
}

// Service runs the interactions of every stream. It is safe for concurrent use by many connections.
type Service struct {
	cfg    Config
	store  Store
	sink   Sink
	log    *slog.Logger
	ledger *rewards.Ledger
	scorer *Scorer

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter // stream+"\x00"+user → comment limiter

	likes    *likeMeter
	rooms    *roomReads // room.go: the joins' shared reads of the stream-wide welcome
	timeline *timelineCache
	notify   *notifySettings
	likeSums likeSums
	awards   AwardQueue
	inflight inflightAwards
	privacy  privacyNotes // privacy.go: the (user, stream) pairs noted lately
}

// New returns a Service over store, publishing events to sink.
func New(cfg Config, store Store, sink Sink) *Service {
	cfg.applyDefaults()
	return &Service{
		cfg:      cfg,
		store:    store,
		sink:     sink,
		log:      cfg.Logger,
		ledger:   cfg.Ledger,
		scorer:   NewScorer(*cfg.Rules),
		limiters: map[string]*rate.Limiter{},
		awards:   cfg.Awards,
		likes:    newLikeMeter(),
		rooms:    newRoomReads(),
		timeline: newTimelineCache(),
		notify:   newNotifySettings(cfg.Notify),
	}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// emit publishes one event. A failure is logged and counted, never returned: the interaction was already
// applied, and the sink's spool is the place that guarantees delivery. Inside a batch (see Handle) the event
// waits for the batch, so that one action's events cost one spool commit.
func (s *Service) emit(ctx context.Context, typ, stream, user string, data any) {
	s.emitEvent(ctx, "", s.now(), typ, stream, user, data)
}

// emitOnce is emit for an event that may have to be published again (a ledger change whose first
// publication a crash or a full spool may have lost): its id derives from name (the change's idempotency
// key), its type and at, so every publication carries the same id and time, and consumers keep one.
func (s *Service) emitOnce(ctx context.Context, name string, at time.Time, typ, stream, user string, data any) {
	s.emitEvent(ctx, name, at, typ, stream, user, data)
}

func (s *Service) emitEvent(ctx context.Context, name string, at time.Time, typ, stream, user string, data any) {
	variant := ""
	if user != "" {
		variant = s.scorer.ForUser(user).Arm()
	}
	ev, err := NewEvent("kudos/"+s.cfg.Node, typ, stream, user, variant, at, data)
	if err == nil {
		if s.cfg.OmitEventText {
			ev = OmitEventText(ev)
		}
		if name != "" {
			ev.ID = DerivedEventID(at, typ+"\x00"+name)
		}
		if b, ok := ctx.Value(eventBatchKey{}).(*eventBatch); ok {
			b.events = append(b.events, ev)
			return
		}
		err = s.sink.Publish(ctx, ev)
	}
	if err != nil {
		s.log.Error("publish event", "type", typ, "stream", stream, "user", user, "err", err)
	}
}

// admit refuses an action (unavailable) before it changes anything when the sink says it could not take its
// events (see Admitter).
func (s *Service) admit() error {
	if ad, ok := s.sink.(Admitter); ok {
		if err := ad.Admit(); err != nil {
			return fmt.Errorf("%w: %w", errEventsUnavailable, err)
		}
	}
	if q, ok := s.awards.(interface{ len() int }); ok && q.len() >= awardAdmitLimit {
		return fmt.Errorf("%w: %d awards owed", errAwardsBacklog, q.len())
	}
	return nil
}

// awardAdmitLimit: with this many awards owed (the ledger or the spool down for a while), new actions are
// refused before they change anything, so that the queue never has to turn an award away.
const awardAdmitLimit = MaxQueuedAwards * 9 / 10

// errAwardsBacklog answers an action while too many points are waiting to be paid.
var errAwardsBacklog = Errorf(CodeUnavailable, "points cannot be paid now; try again")

// eventBatch gathers the events of one action (a vote, its points, a tier change) for a single Publish, and
// the awards that are done once those events are durable.
type eventBatch struct {
	events []Event
	awards []string
}

type eventBatchKey struct{}

// errEventsUnavailable answers an action whose events could not be made durable: it is not acknowledged.
var errEventsUnavailable = Errorf(CodeUnavailable, "the event log cannot take this now; try again")

// batched runs fn with emit gathering events, then publishes them in one call, in order, before returning:
// the caller's acknowledgement follows the durable spool write. If the publication fails the action is
// answered unavailable (never acknowledged with its events dropped), and its awards stay queued, so that
// RunAwards publishes their events again, with the same ids.
func (s *Service) batched(ctx context.Context, fn func(ctx context.Context) (Outcome, error)) (Outcome, error) {
	if _, nested := ctx.Value(eventBatchKey{}).(*eventBatch); nested {
		return fn(ctx)
	}
	b := &eventBatch{}
	out, err := fn(context.WithValue(ctx, eventBatchKey{}, b))
	published := true
	if len(b.events) > 0 {
		if perr := s.sink.Publish(ctx, b.events...); perr != nil {
			published = false
			s.log.Error("publish events", "count", len(b.events), "stream", out.Stream, "err", perr)
			if err == nil {
				err = fmt.Errorf("publish %d events: %w: %w", len(b.events), errEventsUnavailable, perr)
			}
		}
	}
	for _, key := range b.awards {
		s.finishAward(ctx, key, published)
	}
	return out, err
}

// newItemID returns a fresh id for a poll, quiz, coupon or draw: a lowercase ULID.
func (s *Service) newItemID() string { return strings.ToLower(NewEventID(s.now())) }

// notYetOpen is the rejection of an interaction that arrives before its item opened to viewers.
func notYetOpen(what string) *Error { return Errorf(CodeClosed, "%s is not open yet", what) }

// ignoreNotFound turns ErrNotFound into nil: for lookups where "nothing there" is a normal answer.
func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// unixMS returns t in Unix milliseconds, 0 for the zero time.
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
