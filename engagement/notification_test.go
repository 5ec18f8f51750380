package engagement

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var serviceActor = Actor{User: "shop", Role: RoleService}

// afternoon is 14:00 in Shanghai: outside the default quiet hours.
var afternoon = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func (f *hostFixture) join(t *testing.T, a Actor, stream string) {
	t.Helper()
	if _, err := f.svc.Join(context.Background(), a, stream); err != nil {
		t.Fatal(err)
	}
}

// notificationFrames returns the users each outcome shows a notification to, as "stream/user".
func notificationFrames(outs []Outcome) []string {
	var got []string
	for _, o := range outs {
		for _, d := range o.Direct {
			if d.Frame.Type == "notification" {
				got = append(got, o.Stream+"/"+d.User)
			}
		}
	}
	return got
}

func eventData(t *testing.T, e Event) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNotificationDailyCap(t *testing.T) {
	f := newHostFixture(t, 0)
	f.clock.Advance(afternoon.Sub(f.clock.Now()))
	ctx := context.Background()
	f.join(t, viewer("ann"), "s1")
	for i := 1; i <= 4; i++ {
		res, outs, err := f.svc.Notify(ctx, serviceActor, NotificationSpec{
			ID: fmt.Sprint("n", i), Kind: KindCouponExpiring, Title: "Your coupon expires soon", Users: []string{"ann"},
		})
		if err != nil {
			t.Fatalf("notification %d: %v", i, err)
		}
		wantSent := i <= 3
		if (res.Sent == 1) != wantSent || (res.Capped == 1) == wantSent || len(res.Results) != 1 {
			t.Fatalf("notification %d: %+v, want sent %v", i, res, wantSent)
		}
		r := res.Results[0]
		frames := notificationFrames(outs)
		if wantSent {
			if r.Status != NotificationSent || r.Stream != "s1" || !slices.Equal(frames, []string{"s1/ann"}) {
				t.Errorf("notification %d: result %+v, frames %v; want sent live on s1", i, r, frames)
			}
		} else if r.Status != NotificationCapped || r.Reason != ReasonDailyCap || len(frames) != 0 {
			t.Errorf("notification %d: result %+v, frames %v; want capped by the daily cap, never delivered", i, r, frames)
		}
	}
	sent, capped := f.eventsOf(EventNotificationSent), f.eventsOf(EventNotificationCapped)
	if len(sent) != 3 || len(capped) != 1 {
		t.Fatalf("%d sent and %d capped events, want 3 and 1", len(sent), len(capped))
	}
	if d := eventData(t, capped[0]); d["notification_id"] != "n4" || d["kind"] != KindCouponExpiring || d["reason"] != ReasonDailyCap || capped[0].UserID != "ann" {
		t.Errorf("notification.capped = %v (user %s)", d, capped[0].UserID)
	}
	if d := eventData(t, sent[0]); d["notification_id"] != "n1" || d["title"] != "Your coupon expires soon" || d["live"] != true {
		t.Errorf("notification.sent = %v", d)
	}
	if n, err := f.svc.NotificationsSent(ctx, "ann"); err != nil || n != 3 {
		t.Errorf("NotificationsSent = %d, %v; want 3", n, err)
	}

	// Posting n2 again decides nothing anew: no event, no frame, the same answer.
	res, outs, err := f.svc.Notify(ctx, serviceActor, NotificationSpec{ID: "n2", Kind: KindCouponExpiring, Title: "Again", Users: []string{"ann"}})
	if err != nil || res.Sent != 1 || !res.Results[0].Replayed || len(notificationFrames(outs)) != 0 {
		t.Errorf("replayed post = %+v, %v, frames %v", res, err, notificationFrames(outs))
	}
	if n := len(f.eventsOf(EventNotificationSent)) + len(f.eventsOf(EventNotificationCapped)); n != 4 {
		t.Errorf("%d notification events after a replayed post, want still 4", n)
	}

	// A new day starts a new count.
	f.clock.Advance(24 * time.Hour)
	res, _, err = f.svc.Notify(ctx, serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "We are live", Users: []string{"ann"}})
	if err != nil || res.Sent != 1 || res.ID == "" {
		t.Errorf("next day = %+v, %v; want sent with a fresh id", res, err)
	}
}

// TestNotificationDayInBeijingTime: the daily limit counts per calendar day of NotifyConfig.Location, by default
// Asia/Shanghai: it starts anew at midnight in Beijing (16:00 UTC), not at midnight UTC; with Location UTC it
// starts anew at midnight UTC, as before.
func TestNotificationDayInBeijingTime(t *testing.T) {
	beijing := time.FixedZone("CST", 8*60*60)
	type step struct {
		at       time.Time
		wantSent bool
	}
	tests := []struct {
		name  string
		loc   *time.Location
		steps []step
	}{
		{"default: Beijing", nil, []step{
			{time.Date(2026, 3, 2, 23, 59, 0, 0, beijing), true},
			{time.Date(2026, 3, 3, 0, 1, 0, 0, beijing), true},  // 2026-03-02 16:01 UTC: a new day in Beijing
			{time.Date(2026, 3, 3, 8, 0, 0, 0, beijing), false}, // midnight UTC: the same day in Beijing
			{time.Date(2026, 3, 4, 0, 0, 0, 0, beijing), true},
		}},
		{"UTC", time.UTC, []step{
			{time.Date(2026, 3, 2, 23, 59, 0, 0, beijing), true},
			{time.Date(2026, 3, 3, 0, 1, 0, 0, beijing), false}, // still 2026-03-02 in UTC
			{time.Date(2026, 3, 2, 23, 59, 0, 0, time.UTC), false},
			{time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newHostFixture(t, 0)
			f.svc.SetNotifyConfig(NotifyConfig{NoQuietHours: true, DailyLimit: 1, Location: tt.loc})
			for i, s := range tt.steps {
				f.clock.Set(s.at)
				res, _, err := f.svc.Notify(ctx, serviceActor, NotificationSpec{ID: fmt.Sprint("n", i), Kind: KindStreamLive, Title: "Live", Users: []string{"ann"}})
				if err != nil || (res.Sent == 1) != s.wantSent || res.Sent+res.Capped != 1 {
					t.Fatalf("at %s: %+v, %v; want sent %v", s.at, res, err, s.wantSent)
				}
				if n, err := f.svc.NotificationsSent(ctx, "ann"); err != nil || n != 1 {
					t.Fatalf("NotificationsSent at %s = %d, %v; want 1 (the limit)", s.at, n, err)
				}
			}
		})
	}
}

func TestNotificationQuietHoursHold(t *testing.T) {
	f := newHostFixture(t, 0) // 20:00 UTC is 04:00 in Shanghai: quiet
	ctx := context.Background()
	f.join(t, viewer("ann"), "s1")
	spec := NotificationSpec{ID: "live-1", Kind: KindStreamLive, Title: "We are live", Users: []string{"ann", "bob"}}
	res, outs, err := f.svc.Notify(ctx, serviceActor, spec)
	if err != nil {
		t.Fatal(err)
	}
	morning := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // 08:00 in Shanghai
	if res.Sent != 0 || res.Capped != 2 || res.Held != 2 || len(notificationFrames(outs)) != 0 {
		t.Fatalf("quiet hours: %+v, frames %v; want both held", res, notificationFrames(outs))
	}
	for _, r := range res.Results {
		if r.Status != NotificationHeld || r.Reason != ReasonQuietHours || !r.RetryAt.Equal(morning) {
			t.Errorf("result %+v, want held until %v", r, morning)
		}
	}
	evs := f.eventsOf(EventNotificationCapped)
	if len(evs) != 2 || eventData(t, evs[0])["reason"] != ReasonQuietHours {
		t.Errorf("capped events = %d, want 2 with reason quiet_hours", len(evs))
	}
	if n, _ := f.svc.NotificationsSent(ctx, "ann"); n != 0 {
		t.Errorf("held notifications counted: %d", n)
	}
	// Held means not decided: the same id goes out once the quiet hours end.
	f.clock.Advance(morning.Sub(f.clock.Now()))
	res, outs, err = f.svc.Notify(ctx, serviceActor, spec)
	if err != nil || res.Sent != 2 || !slices.Equal(notificationFrames(outs), []string{"s1/ann"}) {
		t.Errorf("after quiet hours = %+v, %v, frames %v; want both sent, ann live on s1", res, err, notificationFrames(outs))
	}

	// With quiet hours off, the night is like the day.
	g := newHostFixture(t, 0)
	g.svc.SetNotifyConfig(NotifyConfig{NoQuietHours: true, DailyLimit: 1})
	res, _, err = g.svc.Notify(ctx, serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Live", Users: []string{"ann"}})
	if err != nil || res.Sent != 1 {
		t.Errorf("quiet hours off: %+v, %v", res, err)
	}
	res, _, err = g.svc.Notify(ctx, serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Live", Users: []string{"ann"}})
	if err != nil || res.Capped != 1 || res.Held != 0 {
		t.Errorf("daily limit 1: %+v, %v", res, err)
	}
}

// TestNotificationIDsAreTheSendersOwn: a notification id is idempotent for its sender only. Before, the
// (id, user) decision was global, so a host who posted another sender's id first (ids are often guessable:
// "sale-2026-03-02") made that sender's real notification a "replay" that nobody received, and could replay
// theirs.
func TestNotificationIDsAreTheSendersOwn(t *testing.T) {
	f := newHostFixture(t, 0)
	f.clock.Advance(afternoon.Sub(f.clock.Now()))
	ctx := context.Background()
	f.join(t, viewer("ann"), "s2")
	f.join(t, viewer("ann"), "s1")

	// The host of s1 uses the id the shop is about to use, on an audience that includes ann.
	res, _, err := f.svc.Notify(ctx, f.host1, NotificationSpec{ID: "spring-sale", Kind: KindStreamLive, Title: "Join us", Stream: "s1"})
	if err != nil || res.Sent != 1 {
		t.Fatalf("host's notification = %+v, %v", res, err)
	}
	// The shop's notification of the same id is its own: decided, sent and delivered.
	spec := NotificationSpec{ID: "spring-sale", Kind: KindCouponExpiring, Title: "Your coupon expires", Users: []string{"ann"}}
	res, outs, err := f.svc.Notify(ctx, serviceActor, spec)
	if err != nil || res.Sent != 1 || res.Results[0].Replayed || !slices.Equal(notificationFrames(outs), []string{"s1/ann"}) {
		t.Fatalf("shop's notification after a host used its id = %+v, %v, frames %v; want sent to ann, not a replay", res, err, notificationFrames(outs))
	}
	// Each sender's repost is still a replay of their own decision.
	res, outs, err = f.svc.Notify(ctx, serviceActor, spec)
	if err != nil || !res.Results[0].Replayed || len(notificationFrames(outs)) != 0 {
		t.Fatalf("shop's repost = %+v, %v, frames %v; want a replay", res, err, notificationFrames(outs))
	}
	res, _, err = f.svc.Notify(ctx, f.host2, NotificationSpec{ID: "spring-sale", Kind: KindStreamLive, Title: "Join us", Stream: "s2"})
	if err != nil || res.Sent != 1 || res.Results[0].Replayed {
		t.Fatalf("another host's notification of the same id = %+v, %v; want its own decision", res, err)
	}
	if n, err := f.svc.NotificationsSent(ctx, "ann"); err != nil || n != 3 {
		t.Fatalf("NotificationsSent(ann) = %d, %v; want 3 (one per sender)", n, err)
	}
	sent := 0
	for _, e := range f.eventsOf(EventNotificationSent) {
		if eventData(t, e)["notification_id"] == "spring-sale" {
			sent++
		}
	}
	if sent != 3 {
		t.Fatalf("%d notification.sent events for spring-sale, want 3", sent)
	}
}

func TestQuietHours(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*60*60)
	tests := []struct {
		name      string
		cfg       NotifyConfig
		at        time.Time
		wantQuiet bool
		wantUntil time.Time
	}{
		{"21:59 local", NotifyConfig{}, time.Date(2026, 3, 1, 21, 59, 0, 0, shanghai), false, time.Time{}},
		{"22:00 local", NotifyConfig{}, time.Date(2026, 3, 1, 22, 0, 0, 0, shanghai), true, time.Date(2026, 3, 2, 8, 0, 0, 0, shanghai)},
		{"03:00 local", NotifyConfig{}, time.Date(2026, 3, 2, 3, 0, 0, 0, shanghai), true, time.Date(2026, 3, 2, 8, 0, 0, 0, shanghai)},
		{"08:00 local", NotifyConfig{}, time.Date(2026, 3, 2, 8, 0, 0, 0, shanghai), false, time.Time{}},
		{"same window in UTC", NotifyConfig{Location: time.UTC}, time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), true, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"window within a day", NotifyConfig{QuietStart: 1 * time.Hour, QuietEnd: 5 * time.Hour, Location: time.UTC}, time.Date(2026, 3, 1, 4, 59, 0, 0, time.UTC), true, time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)},
		{"outside it", NotifyConfig{QuietStart: 1 * time.Hour, QuietEnd: 5 * time.Hour, Location: time.UTC}, time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), false, time.Time{}},
		{"off", NotifyConfig{NoQuietHours: true}, time.Date(2026, 3, 2, 3, 0, 0, 0, shanghai), false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.applyDefaults()
			until, quiet := cfg.quietUntil(tt.at)
			if quiet != tt.wantQuiet || !until.Equal(tt.wantUntil) {
				t.Errorf("quietUntil(%v) = %v, %v; want %v, %v", tt.at, until, quiet, tt.wantUntil, tt.wantQuiet)
			}
		})
	}
}

func TestNotifyStreamAudienceAndWho(t *testing.T) {
	f := newHostFixture(t, 0)
	f.clock.Advance(afternoon.Sub(f.clock.Now()))
	ctx := context.Background()
	f.join(t, viewer("ann"), "s1")
	f.join(t, viewer("bob"), "s1")
	f.join(t, f.host1, "s1") // staff are not the audience
	f.join(t, viewer("cy"), "s2")

	tests := []struct {
		name   string
		actor  Actor
		spec   NotificationSpec
		code   Code
		field  string
		frames []string
	}{
		{"host to their audience", f.host1, NotificationSpec{Kind: KindStreamLive, Title: "Back in 5", Stream: "s1"}, "", "", []string{"s1/ann", "s1/bob"}},
		{"service to users", serviceActor, NotificationSpec{Kind: KindPointsExpiring, Title: "Points expire", Users: []string{"cy", "cy", "zed"}}, "", "", []string{"s2/cy"}},
		{"viewer", viewer("ann"), NotificationSpec{Kind: KindStreamLive, Title: "Hi", Stream: "s1"}, CodeForbidden, "", nil},
		{"host without stream", f.host1, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Users: []string{"ann"}}, CodeForbidden, "", nil},
		{"host of another stream", f.host2, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Stream: "s1"}, CodeForbidden, "", nil},
		{"host about points", f.host1, NotificationSpec{Kind: KindPointsExpiring, Title: "Hi", Stream: "s1"}, CodeForbidden, "", nil},
		{"bad kind", serviceActor, NotificationSpec{Kind: "Stream Live", Title: "Hi", Users: []string{"ann"}}, CodeInvalid, "kind", nil},
		{"no title", serviceActor, NotificationSpec{Kind: KindStreamLive, Users: []string{"ann"}}, CodeInvalid, "title", nil},
		{"long body", serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Body: strings.Repeat("x", MaxNotificationBodyRunes+1), Users: []string{"ann"}}, CodeInvalid, "body", nil},
		{"users and stream", serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Users: []string{"ann"}, Stream: "s1"}, CodeInvalid, "users", nil},
		{"nobody", serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Hi"}, CodeInvalid, "users", nil},
		{"bad user id", serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Users: []string{"a b"}}, CodeInvalid, "users", nil},
		{"unknown stream", serviceActor, NotificationSpec{Kind: KindStreamLive, Title: "Hi", Stream: "nope"}, CodeNotFound, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, outs, err := f.svc.Notify(ctx, tt.actor, tt.spec)
			wantHostCode(t, err, tt.code)
			if tt.field != "" && FieldOf(err) != tt.field {
				t.Errorf("field = %q, want %q", FieldOf(err), tt.field)
			}
			if err != nil {
				return
			}
			got := notificationFrames(outs)
			slices.Sort(got)
			if !slices.Equal(got, tt.frames) {
				t.Errorf("frames = %v, want %v (result %+v)", got, tt.frames, res)
			}
		})
	}
	// zed joined nothing: sent (the push service takes it from the event) but shown on no socket.
	evs := f.eventsOf(EventNotificationSent)
	var zed map[string]any
	for _, e := range evs {
		if e.UserID == "zed" {
			zed = eventData(t, e)
		}
	}
	if zed == nil || zed["live"] != false || zed["kind"] != KindPointsExpiring {
		t.Errorf("notification.sent for zed = %v", zed)
	}
}

func testParticipants(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.LastStream(ctx, "ann"); CodeOf(err) != CodeNotFound {
		t.Errorf("LastStream before joining: %v, want not_found", err)
	}
	joins := []struct{ stream, user string }{{"s1", "ann"}, {"s1", "bob"}, {"s1", "ann"}, {"s2", "ann"}}
	for _, j := range joins {
		if err := s.AddParticipant(ctx, j.stream, j.user, conformanceT0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Participants(ctx, "s1", 10)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"ann", "bob"}) {
		t.Errorf("Participants(s1) = %v, %v; want [ann bob]", got, err)
	}
	if got, err := s.Participants(ctx, "s1", 1); err != nil || len(got) != 1 {
		t.Errorf("Participants(s1, 1) = %v, %v; want one", got, err)
	}
	if st, err := s.LastStream(ctx, "ann"); err != nil || st != "s2" {
		t.Errorf("LastStream(ann) = %q, %v; want s2", st, err)
	}
}

func testDecideNotification(t *testing.T, s Store) {
	ctx := context.Background()
	steps := []struct {
		sender, id, user, day string
		want                  string
		wantReplayed          bool
	}{
		{"shop", "n1", "ann", "2026-03-14", NotificationSent, false},
		{"shop", "n2", "ann", "2026-03-14", NotificationSent, false},
		{"shop", "n1", "ann", "2026-03-14", NotificationSent, true}, // the same id again counts nothing
		{"shop", "n3", "ann", "2026-03-14", NotificationCapped, false},
		{"shop", "n3", "ann", "2026-03-14", NotificationCapped, true},
		{"shop", "n3", "bob", "2026-03-14", NotificationSent, false}, // per user
		{"shop", "n4", "ann", "2026-03-15", NotificationSent, false}, // per day
		// Ids are the sender's own: another sender's n4 is another notification (here capped, not a replay
		// of the shop's decision), and neither sender's decision replays or suppresses the other's.
		{"host-b", "n4", "ann", "2026-03-15", NotificationSent, false},
		{"host-b", "n4", "ann", "2026-03-15", NotificationSent, true},
		{"shop", "n4", "ann", "2026-03-15", NotificationSent, true},
		{"host-b", "n9", "bob", "2026-03-15", NotificationSent, false},
		{"shop", "n9", "bob", "2026-03-15", NotificationSent, false},
		{"host-c", "n9", "bob", "2026-03-15", NotificationCapped, false},
		// No (sender, id) pair spells another's.
		{"ho", "st-bn9", "bob", "2026-03-15", NotificationCapped, false},
		{"host-b:n9", "", "bob", "2026-03-15", NotificationCapped, false},
	}
	for i, st := range steps {
		got, replayed, err := s.DecideNotification(ctx, st.sender, st.id, st.user, st.day, 2)
		if err != nil || got != st.want || replayed != st.wantReplayed {
			t.Errorf("step %d (%s's %s to %s on %s): %s replayed %v err %v; want %s replayed %v", i, st.sender, st.id, st.user, st.day, got, replayed, err, st.want, st.wantReplayed)
		}
	}
	for _, c := range []struct {
		user, day string
		want      int
	}{{"ann", "2026-03-14", 2}, {"bob", "2026-03-14", 1}, {"ann", "2026-03-15", 2}, {"bob", "2026-03-15", 2}, {"cy", "2026-03-14", 0}} {
		if n, err := s.NotificationsSent(ctx, c.user, c.day); err != nil || n != c.want {
			t.Errorf("NotificationsSent(%s, %s) = %d, %v; want %d", c.user, c.day, n, err, c.want)
		}
	}
}

func testDecideNotificationConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const attempts, limit = 40, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for i := range attempts {
		wg.Go(func() {
			d, _, err := s.DecideNotification(ctx, "shop", fmt.Sprint("n", i), "ann", "2026-03-14", limit)
			if err != nil {
				t.Errorf("DecideNotification: %v", err)
				return
			}
			if d == NotificationSent {
				mu.Lock()
				sent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if sent != limit {
		t.Errorf("sent %d of %d at once, want exactly %d", sent, attempts, limit)
	}
	if n, err := s.NotificationsSent(ctx, "ann", "2026-03-14"); err != nil || n != limit {
		t.Errorf("NotificationsSent = %d, %v; want %d", n, err, limit)
	}
}

// TestRedisNotificationDays checks that a decision is replayed on the next day (as promised) and
// that the cap counts per day.
func TestRedisNotificationDays(t *testing.T) {
	s := newTestRedisStore(t)
	ctx := context.Background()
	steps := []struct {
		id, day      string
		want         string
		wantReplayed bool
	}{
		{"n1", "2026-03-14", NotificationSent, false},
		{"n2", "2026-03-14", NotificationCapped, false},
		{"n1", "2026-03-15", NotificationSent, true},   // decided the day before
		{"n2", "2026-03-15", NotificationCapped, true}, // so is a refusal
		{"n3", "2026-03-15", NotificationSent, false},
		{"n1", "2026-03-17", NotificationSent, false}, // forgotten after the next day
	}
	for i, st := range steps {
		got, replayed, err := s.DecideNotification(ctx, "shop", st.id, "ann", st.day, 1)
		if err != nil || got != st.want || replayed != st.wantReplayed {
			t.Errorf("step %d (%s on %s): %s replayed %v err %v; want %s replayed %v", i, st.id, st.day, got, replayed, err, st.want, st.wantReplayed)
		}
	}
	_, _, err := s.DecideNotification(ctx, "shop", "n9", "ann", "14/03/2026", 1)
	wantCode(t, "bad day", err, ErrInvalid)
}

// notificationStoreSuite is NotificationStore's part of the Store conformance suite (runStoreSuite).
var notificationStoreSuite = []storeCase{
	{"Participants", testParticipants},
	{"DecideNotification", testDecideNotification},
	{"DecideNotificationConcurrent", testDecideNotificationConcurrent},
}

// notificationAgedSuite is NotificationStore's part of the suite's lifetime cases (runStoreSuite).
var notificationAgedSuite = []agedCase{
	{"Lifetime", testNotificationLifetime},
}

// testNotificationLifetime: an audience and a user's last stream live StreamTTL after the last join, a day's
// decisions and count notificationTTL after the last decision.
func testNotificationLifetime(t *testing.T, s Store, age func(time.Duration)) {
	ctx := context.Background()
	const day = "2026-03-14"
	noErr(t, s.AddParticipant(ctx, "s1", "ann", conformanceT0))
	_, _, err := s.DecideNotification(ctx, "shop", "n1", "ann", day, 3)
	noErr(t, err)
	age(DefaultStreamTTL - time.Minute)
	if st, err := s.LastStream(ctx, "ann"); err != nil || st != "s1" {
		t.Fatalf("a minute before StreamTTL: last stream %q, %v", st, err)
	}
	age(time.Minute)
	noErr(t, s.AddParticipant(ctx, "s2", "bob", conformanceT0))
	_, err = s.LastStream(ctx, "ann")
	isErr(t, err, ErrNotFound)
	if users, err := s.Participants(ctx, "s1", 10); err != nil || len(users) != 0 {
		t.Fatalf("at StreamTTL: audience %v, %v; want none", users, err)
	}
	age(notificationTTL - DefaultStreamTTL)
	if n, err := s.NotificationsSent(ctx, "ann", day); err != nil || n != 0 {
		t.Fatalf("at notificationTTL: %d sent, %v; want 0", n, err)
	}
	d, replayed, err := s.DecideNotification(ctx, "shop", "n1", "ann", day, 3)
	if err != nil || d != NotificationSent || replayed {
		t.Fatalf("the same id after notificationTTL: %s replayed %v, %v; want decided anew", d, replayed, err)
	}
}
