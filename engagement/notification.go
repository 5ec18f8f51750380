package engagement

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kudos-live/kudos/rewards"
)

// Notification limits.
const (
	MaxNotificationTitleRunes = 80
	MaxNotificationBodyRunes  = 500
	// MaxNotificationUsers bounds an explicit recipient list.
	MaxNotificationUsers = 1000
	// MaxStreamAudience bounds the recipients of a notification to a stream's audience.
	MaxStreamAudience = 10_000
)

// Notification kinds Kudos knows; others matching [a-z][a-z0-9_]{0,39} are accepted too. The loyalty kinds
// (points, tiers) come from the shop's backend only.
const (
	KindStreamLive     = "stream_live"
	KindCouponExpiring = "coupon_expiring"
	KindPointsExpiring = "points_expiring"
	KindTierDropping   = "tier_dropping"
)

// Why a notification was not sent, in results and notification.capped events.
const (
	ReasonDailyCap   = "daily_cap"
	ReasonQuietHours = "quiet_hours"
)

// NotificationHeld is the result status of a notification held back by quiet hours: not sent, not counted,
// and not remembered, so the same id may be posted again once RetryAt has passed.
const NotificationHeld = "held"

// NotifyConfig decides who gets a notification. The zero value works: every field has a documented default.
type NotifyConfig struct {
	// DailyLimit is how many notifications a user receives per calendar day in Location at most. Default 3.
	DailyLimit int
	// QuietStart and QuietEnd bound the quiet hours as times of day in Location (since midnight); the span
	// may cross midnight. When both are zero the default is 22:00–08:00.
	QuietStart, QuietEnd time.Duration
	// NoQuietHours turns quiet hours off.
	NoQuietHours bool
	// Location is the business calendar: the time zone of the quiet hours and of the day of DailyLimit (the
	// count starts anew at its midnight). Default Asia/Shanghai (UTC+8 all year, used as a fixed zone if the
	// system has no time zone database). It is the ledger's calendar too (rewards.Config.Location).
	Location *time.Location
}

func (c *NotifyConfig) applyDefaults() {
	if c.DailyLimit <= 0 {
		c.DailyLimit = 3
	}
	if c.QuietStart == 0 && c.QuietEnd == 0 {
		c.QuietStart, c.QuietEnd = 22*time.Hour, 8*time.Hour
	}
	if c.Location == nil {
		c.Location = rewards.DefaultLocation()
	}
}

// day is the calendar day of now in c.Location, "2006-01-02": the day the daily limit counts.
func (c NotifyConfig) day(now time.Time) string { return now.In(c.Location).Format(time.DateOnly) }

// quietUntil reports whether now falls in the quiet hours and, if so, when they end.
func (c NotifyConfig) quietUntil(now time.Time) (time.Time, bool) {
	if c.NoQuietHours || c.QuietStart == c.QuietEnd {
		return time.Time{}, false
	}
	local := now.In(c.Location)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, c.Location)
	tod := local.Sub(midnight)
	var quiet bool
	if c.QuietStart < c.QuietEnd {
		quiet = tod >= c.QuietStart && tod < c.QuietEnd
	} else {
		quiet = tod >= c.QuietStart || tod < c.QuietEnd
	}
	if !quiet {
		return time.Time{}, false
	}
	end := midnight.Add(c.QuietEnd)
	if !end.After(local) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, c.Location).Add(c.QuietEnd)
	}
	return end.UTC(), true
}

// notifySettings holds the Service's NotifyConfig, which SetNotifyConfig may replace.
type notifySettings struct {
	mu  sync.Mutex
	cfg NotifyConfig
}

func newNotifySettings(c NotifyConfig) *notifySettings {
	c.applyDefaults()
	return &notifySettings{cfg: c}
}

// SetNotifyConfig sets who gets notifications (call it before serving). Without it the defaults apply.
func (s *Service) SetNotifyConfig(c NotifyConfig) {
	c.applyDefaults()
	s.notify.mu.Lock()
	s.notify.cfg = c
	s.notify.mu.Unlock()
}

func (s *Service) notifyConfig() NotifyConfig {
	s.notify.mu.Lock()
	defer s.notify.mu.Unlock()
	return s.notify.cfg
}

// NotificationSpec is what a host or the shop's backend posts to notify users.
type NotificationSpec struct {
	// ID makes the request idempotent: posting it again decides nothing anew. It is the sender's own: the same
	// id from another sender (another host, the shop's backend) is another notification. Default: a fresh id.
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Body  string `json:"body"`
	// Users are the recipients; or Stream: everyone who joined it (its audience).
	Users  []string `json:"users"`
	Stream string   `json:"stream"`
}

// NotificationResult is the decision for one recipient.
type NotificationResult struct {
	User string `json:"user"`
	// Status is sent, capped (the daily limit) or held (quiet hours).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// RetryAt is when quiet hours end, for a held notification.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Stream is where it was delivered live (the user's sockets on that stream), if anywhere.
	Stream string `json:"stream,omitempty"`
	// Replayed marks a decision taken by an earlier post of the same id.
	Replayed bool `json:"replayed,omitempty"`
}

// NotifyResult answers a notification request. Capped counts every recipient not sent to (daily limit or
// quiet hours); Held is the part held by quiet hours.
type NotifyResult struct {
	ID      string               `json:"id"`
	Sent    int                  `json:"sent"`
	Capped  int                  `json:"capped"`
	Held    int                  `json:"held"`
	Results []NotificationResult `json:"results"`
}

var notificationKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func (sp NotificationSpec) clean() (NotificationSpec, error) {
	if !notificationKindPattern.MatchString(sp.Kind) {
		return sp, Invalid("kind", "kind must be a lowercase name such as stream_live")
	}
	title, err := CleanText("title", sp.Title, MaxNotificationTitleRunes)
	if err != nil {
		return sp, err
	}
	body := ""
	if strings.TrimSpace(sp.Body) != "" {
		if body, err = CleanText("body", sp.Body, MaxNotificationBodyRunes); err != nil {
			return sp, err
		}
	}
	if sp.ID != "" {
		if err := validID("id", sp.ID); err != nil {
			return sp, err
		}
	}
	switch {
	case len(sp.Users) > 0 && sp.Stream != "":
		return sp, Invalid("users", "give users or stream, not both")
	case len(sp.Users) == 0 && sp.Stream == "":
		return sp, Invalid("users", "users or stream is required")
	case len(sp.Users) > MaxNotificationUsers:
		return sp, Invalid("users", "at most %d users", MaxNotificationUsers)
	}
	users := make([]string, 0, len(sp.Users))
	for _, u := range sp.Users {
		if err := validID("users", u); err != nil {
			return sp, err
		}
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return NotificationSpec{ID: sp.ID, Kind: sp.Kind, Title: title, Body: body, Users: users, Stream: sp.Stream}, nil
}

// doNotify is Notify (act.go), less the admission and the publication of its events.
func (s *Service) doNotify(ctx context.Context, actor Actor, spec NotificationSpec) (NotifyResult, []Outcome, error) {
	spec, err := spec.clean()
	if err != nil {
		return NotifyResult{}, nil, err
	}
	switch actor.Role {
	case RoleService, RoleAdmin:
		if spec.Stream != "" {
			if _, err := s.Stream(ctx, spec.Stream); err != nil {
				return NotifyResult{}, nil, err
			}
		}
	case RoleHost:
		if spec.Stream == "" {
			return NotifyResult{}, nil, Errorf(CodeForbidden, "a host notifies the audience of their stream (give stream)")
		}
		if spec.Kind == KindPointsExpiring || spec.Kind == KindTierDropping {
			return NotifyResult{}, nil, Errorf(CodeForbidden, "only the shop's backend sends %s notifications", spec.Kind)
		}
		if _, err := s.hostStream(ctx, actor, spec.Stream); err != nil {
			return NotifyResult{}, nil, err
		}
	default:
		return NotifyResult{}, nil, Errorf(CodeForbidden, "only hosts and the shop's backend send notifications")
	}
	users := spec.Users
	if spec.Stream != "" {
		if users, err = s.store.Participants(ctx, spec.Stream, MaxStreamAudience); err != nil {
			return NotifyResult{}, nil, fmt.Errorf("audience of %s: %w", spec.Stream, err)
		}
	}
	if spec.ID == "" {
		spec.ID = s.newItemID()
	}
	cfg := s.notifyConfig()
	now := s.now().UTC()
	res := NotifyResult{ID: spec.ID, Results: make([]NotificationResult, 0, len(users))}
	if until, quiet := cfg.quietUntil(now); quiet {
		for _, u := range users {
			res.Results = append(res.Results, NotificationResult{User: u, Status: NotificationHeld, Reason: ReasonQuietHours, RetryAt: until})
			res.Capped++
			res.Held++
			s.emit(ctx, EventNotificationCapped, spec.Stream, u, map[string]any{
				"notification_id": spec.ID, "kind": spec.Kind, "reason": ReasonQuietHours, "retry_at": until,
			})
		}
		return res, nil, nil
	}
	day := cfg.day(now)
	frame := Frame{Type: "notification", Data: map[string]any{
		"id": spec.ID, "kind": spec.Kind, "title": spec.Title, "body": spec.Body, "stream": spec.Stream, "at": now,
	}}
	outs := map[string]*Outcome{}
	var order []string
	live := map[string]bool{} // stream → live, looked up once per request
	for _, u := range users {
		decision, replayed, err := s.store.DecideNotification(ctx, actor.User, spec.ID, u, day, cfg.DailyLimit)
		if err != nil {
			return res, collect(outs, order), fmt.Errorf("decide notification %s for %s: %w", spec.ID, u, err)
		}
		r := NotificationResult{User: u, Status: decision, Replayed: replayed}
		if decision == NotificationCapped {
			r.Reason = ReasonDailyCap
			res.Capped++
		} else {
			res.Sent++
		}
		if !replayed {
			if decision == NotificationSent {
				r.Stream = s.liveStreamOf(ctx, u, spec.Stream, live)
				s.emit(ctx, EventNotificationSent, spec.Stream, u, map[string]any{
					"notification_id": spec.ID, "kind": spec.Kind, "title": spec.Title, "body": spec.Body, "live": r.Stream != "",
				})
			} else {
				s.emit(ctx, EventNotificationCapped, spec.Stream, u, map[string]any{
					"notification_id": spec.ID, "kind": spec.Kind, "reason": ReasonDailyCap, "limit": cfg.DailyLimit,
				})
			}
		}
		if r.Stream != "" {
			o := outs[r.Stream]
			if o == nil {
				o = &Outcome{Stream: r.Stream}
				outs[r.Stream] = o
				order = append(order, r.Stream)
			}
			o.Direct = append(o.Direct, Direct{User: u, Frame: frame})
		}
		res.Results = append(res.Results, r)
	}
	return res, collect(outs, order), nil
}

// liveStreamOf returns the live stream on which user's sockets can show a notification: the target stream,
// or the stream the user joined last; "" if it is not live.
func (s *Service) liveStreamOf(ctx context.Context, user, target string, live map[string]bool) string {
	stream := target
	if stream == "" {
		var err error
		if stream, err = s.store.LastStream(ctx, user); err != nil {
			return ""
		}
	}
	isLive, ok := live[stream]
	if !ok {
		st, err := s.Stream(ctx, stream)
		isLive = err == nil && st.Live()
		live[stream] = isLive
	}
	if !isLive {
		return ""
	}
	return stream
}

func collect(outs map[string]*Outcome, order []string) []Outcome {
	list := make([]Outcome, 0, len(order))
	for _, st := range order {
		list = append(list, *outs[st])
	}
	return list
}

// NotificationsSent returns how many notifications user received on the day of now (NotifyConfig.Location).
func (s *Service) NotificationsSent(ctx context.Context, user string) (int, error) {
	n, err := s.store.NotificationsSent(ctx, user, s.notifyConfig().day(s.now()))
	if err != nil {
		return 0, fmt.Errorf("notifications of %s: %w", user, err)
	}
	return n, nil
}

// roomRenew renews a live stream's record once per round of joins (the joins that share a read of the room),
// so that a show people still join never loses it (StreamStore). A failure is logged: the room still opens.
func roomRenew(ctx context.Context, s *Service, st Stream, _ *Welcome) error {
	if st.Live() {
		if err := s.store.RenewStream(ctx, st.ID); err != nil {
			s.log.Error("renew stream", "stream", st.ID, "err", err)
		}
	}
	return nil
}

// joinAudience records a viewer in the stream's audience (the recipients of its notifications); staff are not
// an audience. A failure is logged: the room still opens.
func joinAudience(ctx context.Context, s *Service, actor Actor, st Stream, _ *Welcome) error {
	if actor.CanHost(st) || actor.Role == RoleService {
		return nil
	}
	if err := s.store.AddParticipant(ctx, st.ID, actor.User, s.now().UTC()); err != nil {
		s.log.Error("record audience", "stream", st.ID, "user", actor.User, "err", err)
	}
	return nil
}

// Notification decisions.
const (
	NotificationSent   = "sent"
	NotificationCapped = "capped"
)

// NotificationStore keeps who joined which stream (the audience of a stream's notifications) and how many
// notifications each user received per day.
type NotificationStore interface {
	// AddParticipant records that user joined stream; it also becomes the user's last stream.
	AddParticipant(ctx context.Context, stream, user string, at time.Time) error
	// Participants returns up to max users who joined the stream, in any order.
	Participants(ctx context.Context, stream string, max int) ([]string, error)
	// LastStream returns the stream user joined last, or ErrNotFound.
	LastStream(ctx context.Context, user string) (string, error)
	// DecideNotification decides notification id of sender (the user id of whoever posts it) for user on day
	// (a date, "2006-01-02"). Ids are the sender's own: another sender's equal id is another notification.
	// Atomic per user and day: if the (sender, id, user) triple was decided before it returns that decision
	// with replayed true and changes nothing; otherwise, when fewer than limit notifications were sent to user on day, it counts one more and
	// returns NotificationSent, else NotificationCapped (counting nothing). Both decisions are remembered at
	// least until the day after day has ended (Redis may expire them then).
	DecideNotification(ctx context.Context, sender, id, user, day string, limit int) (decision string, replayed bool, err error)
	// NotificationsSent returns how many notifications were sent to user on day.
	NotificationsSent(ctx context.Context, user, day string) (int, error)
}
